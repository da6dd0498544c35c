//! Live chat support and broadcasts in the bot (issue 7; the engines are in
//! `commands` and `tgops`).
//!
//! - **Customers**: `/support` (or `/chat`) opens a chat in the queue (or
//!   returns to the open one); what they write, photos and files included,
//!   goes to the chat; `/endchat` closes it; after closing they rate it 1–5.
//! - **Agents** (`answer_support`): `/online` and `/offline`; each chat
//!   assigned to them arrives with its history and buttons — Reply (their next
//!   messages go to that customer), Quick reply, Close; `/endchat` closes the
//!   chat they are answering; `/agents` shows response times per agent.
//!   Staff with `manage_content` keep the quick replies: `/quickreply title =
//!   text`, `/quickreply -title`, `/quickreply`.
//! - **Broadcasts** (`manage_content`): `/broadcast` picks a segment, takes the
//!   text, asks for confirmation and queues the campaign; the broadcast worker
//!   sends it and keeps the progress message up to date.
//!
//! Messages between customer and agent travel as events: [`SupportRelay`]
//! turns them into outbox rows (with buttons signed for the recipient), and
//! the `tgops` dispatcher delivers them.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use commands::CommandError;
use domain::access::RoleName;
use domain::broadcast::{ProgressMessage, Segment};
use domain::support::{ChatContent, SupportChatEvent, SupportError};
use domain::{AnyEvent, CustomerId, Language, Location, Permission};
use eventstore::StoredEvent;
use serde::{Deserialize, Serialize};
use tgops::outbox::{enqueue, Kind, OutRow};
use tgops::texts::t;
use tgops::Body;
use uuid::Uuid;
use workers::{Consumer, FeedError};

use crate::app::{App, BotError, Ctx, Screen};
use crate::callback::{location_handle, Action, CallbackError};
use crate::i18n::esc;
use crate::store::Session;

/// The texts this module shows, from the `tgops` catalog (checked by a test below).
mod k {
    pub const K_A_CLOSED: &str = "a-closed";
    pub const K_A_CUSTOMER_SAYS: &str = "a-customer-says";
    pub const K_A_NEW_CHAT: &str = "a-new-chat";
    pub const K_A_NO_CHAT: &str = "a-no-chat";
    pub const K_A_OFFLINE: &str = "a-offline";
    pub const K_A_ONLINE: &str = "a-online";
    pub const K_A_RATED: &str = "a-rated";
    pub const K_A_REPLYING: &str = "a-replying";
    pub const K_A_STATS: &str = "a-stats";
    pub const K_B_CANCELLED: &str = "b-cancelled";
    pub const K_B_CHOOSE_SEGMENT: &str = "b-choose-segment";
    pub const K_B_CONFIRM: &str = "b-confirm";
    pub const K_B_QUEUED: &str = "b-queued";
    pub const K_B_WRITE: &str = "b-write";
    pub const K_BTN_CANCEL: &str = "btn-cancel";
    pub const K_BTN_CLOSE_CHAT: &str = "btn-close-chat";
    pub const K_BTN_GO_OFFLINE: &str = "btn-go-offline";
    pub const K_BTN_GO_ONLINE: &str = "btn-go-online";
    pub const K_BTN_QUICK: &str = "btn-quick";
    pub const K_BTN_REPLY: &str = "btn-reply";
    pub const K_BTN_SEND: &str = "btn-send";
    pub const K_C_AGENT_SAYS: &str = "c-agent-says";
    pub const K_C_ALREADY_OPEN: &str = "c-already-open";
    pub const K_C_ASSIGNED: &str = "c-assigned";
    pub const K_C_CLOSED: &str = "c-closed";
    pub const K_C_DISABLED: &str = "c-disabled";
    pub const K_C_NO_CHAT: &str = "c-no-chat";
    pub const K_C_OPENED: &str = "c-opened";
    pub const K_C_RECEIVED: &str = "c-received";
    pub const K_C_THANKS: &str = "c-thanks";
    pub const K_Q_LIST: &str = "q-list";
    pub const K_SEG_ACTIVE: &str = "seg-active";
    pub const K_SEG_ALL: &str = "seg-all";
    pub const K_SEG_INACTIVE: &str = "seg-inactive";
    pub const K_SEG_LOCATION: &str = "seg-location";
    pub const K_SEG_NEW: &str = "seg-new";
    pub const K_SEG_PLAN: &str = "seg-plan";
    pub const K_SEG_ROLE: &str = "seg-role";
    #[cfg(test)]
    pub const ALL: &[&str] = &[
        K_A_CLOSED,
        K_A_CUSTOMER_SAYS,
        K_A_NEW_CHAT,
        K_A_NO_CHAT,
        K_A_OFFLINE,
        K_A_ONLINE,
        K_A_RATED,
        K_A_REPLYING,
        K_A_STATS,
        K_B_CANCELLED,
        K_B_CHOOSE_SEGMENT,
        K_B_CONFIRM,
        K_B_QUEUED,
        K_B_WRITE,
        K_BTN_CANCEL,
        K_BTN_CLOSE_CHAT,
        K_BTN_GO_OFFLINE,
        K_BTN_GO_ONLINE,
        K_BTN_QUICK,
        K_BTN_REPLY,
        K_BTN_SEND,
        K_C_AGENT_SAYS,
        K_C_ALREADY_OPEN,
        K_C_ASSIGNED,
        K_C_CLOSED,
        K_C_DISABLED,
        K_C_NO_CHAT,
        K_C_OPENED,
        K_C_RECEIVED,
        K_C_THANKS,
        K_Q_LIST,
        K_SEG_ACTIVE,
        K_SEG_ALL,
        K_SEG_INACTIVE,
        K_SEG_LOCATION,
        K_SEG_NEW,
        K_SEG_PLAN,
        K_SEG_ROLE,
    ];
}
use k::*;

// ---- buttons ---------------------------------------------------------------------

/// Who receives a broadcast, as a button can carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentChoice {
    All,
    Active,
    Inactive,
    /// Registered in the last N days.
    New(u16),
    /// A location, by [`location_handle`].
    Location([u8; 8]),
    Plan(Uuid),
    /// An index into [`RoleName::BUILT_IN`].
    Role(u8),
}

/// The buttons of this module (inside [`Action::Ops`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpsAction {
    /// An agent answers this chat.
    Reply(Uuid),
    Close(Uuid),
    QuickMenu(Uuid),
    /// A quick reply, by the hash of its title.
    Quick {
        chat: Uuid,
        title: [u8; 8],
    },
    Rate {
        chat: Uuid,
        stars: u8,
    },
    Presence(bool),
    /// 0: the segment menu; 1: locations; 2: plans; 3: roles.
    SegmentMenu(u8),
    Segment(SegmentChoice),
    /// Confirms the broadcast in the session whose id starts with these bytes.
    SendBroadcast([u8; 8]),
    CancelBroadcast(Uuid),
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], CallbackError> {
    if bytes.len() < n {
        return Err(CallbackError::Malformed);
    }
    let (head, tail) = bytes.split_at(n);
    *bytes = tail;
    Ok(head)
}

fn uuid(bytes: &mut &[u8]) -> Result<Uuid, CallbackError> {
    Uuid::from_slice(take(bytes, 16)?).map_err(|_| CallbackError::Malformed)
}

fn b8(bytes: &mut &[u8]) -> Result<[u8; 8], CallbackError> {
    Ok(take(bytes, 8)?.try_into().expect("8 bytes"))
}

impl OpsAction {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(26);
        match self {
            OpsAction::Reply(c) => {
                out.push(1);
                out.extend_from_slice(c.as_bytes());
            }
            OpsAction::Close(c) => {
                out.push(2);
                out.extend_from_slice(c.as_bytes());
            }
            OpsAction::QuickMenu(c) => {
                out.push(3);
                out.extend_from_slice(c.as_bytes());
            }
            OpsAction::Quick { chat, title } => {
                out.push(4);
                out.extend_from_slice(chat.as_bytes());
                out.extend_from_slice(title);
            }
            OpsAction::Rate { chat, stars } => {
                out.push(5);
                out.extend_from_slice(chat.as_bytes());
                out.push(*stars);
            }
            OpsAction::Presence(on) => out.extend_from_slice(&[6, u8::from(*on)]),
            OpsAction::SegmentMenu(m) => out.extend_from_slice(&[7, *m]),
            OpsAction::Segment(s) => {
                out.push(8);
                match s {
                    SegmentChoice::All => out.push(1),
                    SegmentChoice::Active => out.push(2),
                    SegmentChoice::Inactive => out.push(3),
                    SegmentChoice::New(days) => {
                        out.push(4);
                        out.extend_from_slice(&days.to_be_bytes());
                    }
                    SegmentChoice::Location(h) => {
                        out.push(5);
                        out.extend_from_slice(h);
                    }
                    SegmentChoice::Plan(p) => {
                        out.push(6);
                        out.extend_from_slice(p.as_bytes());
                    }
                    SegmentChoice::Role(r) => out.extend_from_slice(&[7, *r]),
                }
            }
            OpsAction::SendBroadcast(n) => {
                out.push(9);
                out.extend_from_slice(n);
            }
            OpsAction::CancelBroadcast(id) => {
                out.push(10);
                out.extend_from_slice(id.as_bytes());
            }
        }
        out
    }

    /// Reads all of `bytes` (what [`OpsAction::encode`] wrote).
    pub fn decode(mut bytes: &[u8]) -> Result<OpsAction, CallbackError> {
        let b = &mut bytes;
        let tag = take(b, 1)?[0];
        let action = match tag {
            1 => OpsAction::Reply(uuid(b)?),
            2 => OpsAction::Close(uuid(b)?),
            3 => OpsAction::QuickMenu(uuid(b)?),
            4 => OpsAction::Quick {
                chat: uuid(b)?,
                title: b8(b)?,
            },
            5 => OpsAction::Rate {
                chat: uuid(b)?,
                stars: take(b, 1)?[0],
            },
            6 => OpsAction::Presence(take(b, 1)?[0] == 1),
            7 => OpsAction::SegmentMenu(take(b, 1)?[0]),
            8 => OpsAction::Segment(match take(b, 1)?[0] {
                1 => SegmentChoice::All,
                2 => SegmentChoice::Active,
                3 => SegmentChoice::Inactive,
                4 => SegmentChoice::New(u16::from_be_bytes(take(b, 2)?.try_into().expect("2 bytes"))),
                5 => SegmentChoice::Location(b8(b)?),
                6 => SegmentChoice::Plan(uuid(b)?),
                7 => SegmentChoice::Role(take(b, 1)?[0]),
                _ => return Err(CallbackError::Malformed),
            }),
            9 => OpsAction::SendBroadcast(b8(b)?),
            10 => OpsAction::CancelBroadcast(uuid(b)?),
            _ => return Err(CallbackError::Malformed),
        };
        if !b.is_empty() {
            return Err(CallbackError::Malformed);
        }
        Ok(action)
    }
}

/// What this module waits for from a person (inside [`Session::Ops`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum OpsState {
    /// A customer's messages go to their chat.
    CustomerChat { chat: Uuid },
    /// An agent's messages go to this chat.
    AgentReply { chat: Uuid },
    /// The text of a broadcast to `segment`.
    BroadcastText { segment: Segment },
    /// A broadcast written and waiting for "Send".
    BroadcastConfirm { segment: Segment, text: String, id: Uuid },
    /// `title = text` or `-title` for the quick replies.
    QuickReplyEdit,
}

fn tt(ctx: &Ctx<'_>, key: &str, args: &[(&str, String)]) -> String {
    t(ctx.lang, key, args)
}

fn ops_btn(ctx: &Ctx<'_>, key: &str, action: OpsAction) -> teloxide::types::InlineKeyboardButton {
    ctx.btn(tt(ctx, key, &[]), Action::Ops(action))
}

fn title_hash(title: &str) -> [u8; 8] {
    location_handle(title)
}

// ---- customers -----------------------------------------------------------------

/// `/support` and `/chat`.
pub async fn support(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let now = Utc::now();
    let opened = match ctx.app.commands.open_support_chat(&ctx.actor, now).await {
        Ok(o) => o,
        Err(CommandError::Support(SupportError::ChatDisabled) | CommandError::FeatureOff(_) | CommandError::NotLicensed(_)) => {
            ctx.send(Screen::new(tt(ctx, K_C_DISABLED, &[]))).await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    ctx.set_session(Session::Ops {
        ops: OpsState::CustomerChat { chat: opened.chat },
    })
    .await?;
    let key = if opened.new { K_C_OPENED } else { K_C_ALREADY_OPEN };
    ctx.send(Screen::new(tt(ctx, key, &[]))).await?;
    if opened.new {
        if let Err(e) = tgops::support::assign_chat(&ctx.app.commands, opened.chat, now).await {
            // The dispatcher assigns it on its next pass.
            tracing::warn!(chat = %opened.chat, error = %e, "could not assign a new chat at once");
        }
    }
    Ok(())
}

async fn customer_writes(ctx: &Ctx<'_>, chat: Uuid, content: ChatContent) -> Result<(), BotError> {
    let now = Utc::now();
    match ctx
        .app
        .commands
        .post_to_support(&ctx.actor, chat, ctx.update_id, content, now)
        .await
    {
        Ok(()) => {}
        Err(CommandError::Support(SupportError::Closed)) => {
            ctx.set_session(Session::Idle).await?;
            ctx.send(Screen::new(tt(ctx, K_C_NO_CHAT, &[]))).await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    if ctx.app.commands.support_chat(chat).await?.agent.is_none() {
        ctx.send(Screen::new(tt(ctx, K_C_RECEIVED, &[]))).await?;
        let _ = tgops::support::assign_chat(&ctx.app.commands, chat, now).await;
    }
    Ok(())
}

// ---- agents ---------------------------------------------------------------------------

async fn agent_writes(ctx: &Ctx<'_>, chat: Uuid, content: ChatContent) -> Result<(), BotError> {
    ctx.require(Permission::AnswerSupport)?;
    match ctx
        .app
        .commands
        .reply_in_support_chat(&ctx.actor, chat, ctx.update_id, content, Utc::now())
        .await
    {
        Err(CommandError::Support(SupportError::Closed)) => {
            ctx.set_session(Session::Idle).await?;
            ctx.send(Screen::new(tt(ctx, K_A_NO_CHAT, &[]))).await?;
            Ok(())
        }
        other => Ok(other?),
    }
}

async fn presence(ctx: &Ctx<'_>, online: bool) -> Result<(), BotError> {
    ctx.require(Permission::AnswerSupport)?;
    let now = Utc::now();
    ctx.app.commands.set_agent_online(&ctx.actor, ctx.customer(), online, now).await?;
    let (key, toggle) = if online {
        (K_A_ONLINE, ops_btn(ctx, K_BTN_GO_OFFLINE, OpsAction::Presence(false)))
    } else {
        (K_A_OFFLINE, ops_btn(ctx, K_BTN_GO_ONLINE, OpsAction::Presence(true)))
    };
    ctx.show(Screen::new(tt(ctx, key, &[])).button(toggle)).await?;
    if online {
        // Chats waiting in the queue come now, not at the dispatcher's next pass.
        if let Err(e) = tgops::support::assign_queued_with(&ctx.app.commands, Some(ctx.customer()), now).await {
            tracing::warn!(error = %e, "could not assign queued chats at once");
        }
    }
    Ok(())
}

async fn agents(ctx: &Ctx<'_>) -> Result<(), BotError> {
    if !ctx.has(Permission::AnswerSupport) {
        ctx.require(Permission::ViewReports)?;
    }
    let lang = ctx.lang;
    let secs = |s: Option<f64>| s.map_or("—".to_string(), |s| tgops::i18n::duration(lang, s.round() as i64));
    let mut text = tt(ctx, K_A_STATS, &[]);
    for a in tgops::support::agent_figures(&ctx.app.pool).await? {
        let rating = a
            .mean_rating
            .map_or("—".to_string(), |r| tgops::i18n::digits(lang, &format!("{r:.1}⭐")));
        text.push_str(&format!(
            "\n{} <code>{}</code> · {} · {} · {} / {} · {}",
            if a.online { "🟢" } else { "⚪" },
            a.agent,
            ctx.num(a.chats_assigned),
            ctx.num(a.replies),
            secs(a.mean_response_secs),
            tgops::i18n::duration(lang, a.max_response_secs),
            rating
        ));
    }
    ctx.send(Screen::new(text)).await?;
    Ok(())
}

/// `/quickreply`: the list; then `title = text` saves one and `-title` removes one.
async fn quick_replies(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::ManageContent)?;
    let replies = ctx.app.commands.quick_replies().await?;
    let mut out = tt(ctx, K_Q_LIST, &[]);
    for (title, text) in &replies.replies {
        out.push_str(&format!("\n<b>{}</b>: {}", esc(title), esc(text)));
    }
    ctx.set_session(Session::Ops {
        ops: OpsState::QuickReplyEdit,
    })
    .await?;
    ctx.send(Screen::new(out)).await?;
    Ok(())
}

async fn edit_quick_reply(ctx: &Ctx<'_>, line: &str) -> Result<(), BotError> {
    let now = Utc::now();
    let line = line.trim();
    if let Some(title) = line.strip_prefix('-') {
        ctx.app
            .commands
            .remove_quick_reply(&ctx.actor, title.trim().to_string(), now)
            .await?;
    } else if let Some((title, text)) = line.split_once('=') {
        ctx.app
            .commands
            .save_quick_reply(&ctx.actor, title.trim().to_string(), text.trim().to_string(), now)
            .await?;
    } else {
        return Err(CommandError::Support(SupportError::InvalidQuickReply).into());
    }
    quick_replies(ctx).await
}

/// `/endchat`: a customer closes their open chat; an agent with exactly one
/// open chat closes it (with several, the Close button under each says which).
async fn end_chat(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let mut chat = ctx.app.commands.open_chat_of(ctx.customer()).await?;
    if chat.is_none() && ctx.has(Permission::AnswerSupport) {
        let mine: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM support_chats WHERE agent = $1 AND status = 'assigned'")
            .bind(ctx.user)
            .fetch_all(&ctx.app.pool)
            .await?;
        if mine.len() == 1 {
            chat = mine.first().copied();
        }
    }
    let Some(chat) = chat else {
        let key = if ctx.has(Permission::AnswerSupport) {
            K_A_NO_CHAT
        } else {
            K_C_NO_CHAT
        };
        ctx.send(Screen::new(tt(ctx, key, &[]))).await?;
        return Ok(());
    };
    ctx.app.commands.close_support_chat(&ctx.actor, chat, Utc::now()).await?;
    Ok(())
}

// ---- broadcasts --------------------------------------------------------------------------

/// `/broadcast`: who should receive it; campaigns still sending can be cancelled here.
pub async fn broadcast_menu(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::ManageContent)?;
    let seg = |key: &str, args: &[(&str, String)], choice| ctx.btn(tt(ctx, key, args), Action::Ops(OpsAction::Segment(choice)));
    let mut screen = Screen::new(tt(ctx, K_B_CHOOSE_SEGMENT, &[]))
        .row(vec![seg(K_SEG_ALL, &[], SegmentChoice::All)])
        .row(vec![
            seg(K_SEG_ACTIVE, &[], SegmentChoice::Active),
            seg(K_SEG_INACTIVE, &[], SegmentChoice::Inactive),
        ])
        .row(vec![seg(K_SEG_NEW, &[("days", ctx.num(30))], SegmentChoice::New(30))])
        .row(vec![
            ctx.btn("📍".into(), Action::Ops(OpsAction::SegmentMenu(1))),
            ctx.btn("📦".into(), Action::Ops(OpsAction::SegmentMenu(2))),
            ctx.btn("🎖".into(), Action::Ops(OpsAction::SegmentMenu(3))),
        ]);
    let running: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, segment_label FROM broadcasts WHERE status IN ('created', 'running') AND completed_at IS NULL ORDER BY created_at",
    )
    .fetch_all(&ctx.app.pool)
    .await?;
    for (id, label) in running {
        screen = screen.button(ctx.btn(
            format!("{} · {}", tt(ctx, K_BTN_CANCEL, &[]), label),
            Action::Ops(OpsAction::CancelBroadcast(id)),
        ));
    }
    ctx.show(screen.button(ctx.back(Action::AdminMenu))).await?;
    Ok(())
}

async fn segment_menu(ctx: &Ctx<'_>, menu: u8) -> Result<(), BotError> {
    ctx.require(Permission::ManageContent)?;
    let plans = projections::views::plans(&ctx.app.pool, true).await?;
    let mut screen = Screen::new(tt(ctx, K_B_CHOOSE_SEGMENT, &[]));
    match menu {
        1 => {
            let mut locations: Vec<String> = plans.iter().flat_map(|p| p.locations.clone()).collect();
            locations.sort_by_key(|l| l.to_lowercase());
            locations.dedup_by_key(|l| l.to_lowercase());
            for l in locations {
                screen = screen.button(ctx.btn(
                    l.clone(),
                    Action::Ops(OpsAction::Segment(SegmentChoice::Location(location_handle(&l)))),
                ));
            }
        }
        2 => {
            for p in plans {
                screen = screen.button(ctx.btn(p.name.clone(), Action::Ops(OpsAction::Segment(SegmentChoice::Plan(p.id)))));
            }
        }
        3 => {
            for (i, r) in RoleName::BUILT_IN.iter().enumerate() {
                screen = screen.button(ctx.btn(
                    r.as_str().to_string(),
                    Action::Ops(OpsAction::Segment(SegmentChoice::Role(i as u8))),
                ));
            }
        }
        _ => return broadcast_menu(ctx).await,
    }
    ctx.show(screen.button(ctx.back(Action::Ops(OpsAction::SegmentMenu(0))))).await?;
    Ok(())
}

async fn segment_of(ctx: &Ctx<'_>, choice: SegmentChoice) -> Result<Segment, BotError> {
    Ok(match choice {
        SegmentChoice::All => Segment::All,
        SegmentChoice::Active => Segment::Active,
        SegmentChoice::Inactive => Segment::Inactive,
        SegmentChoice::New(days) => Segment::RegisteredWithin { days: u32::from(days) },
        SegmentChoice::Location(h) => {
            let plans = projections::views::plans(&ctx.app.pool, false).await?;
            let name = plans
                .iter()
                .flat_map(|p| p.locations.iter())
                .find(|l| location_handle(l) == h)
                .ok_or(BotError::NotFound)?;
            Segment::Location {
                location: Location::parse(name).map_err(|_| BotError::NotFound)?,
            }
        }
        SegmentChoice::Plan(plan) => Segment::Plan { plan },
        SegmentChoice::Role(i) => Segment::Role {
            role: RoleName::BUILT_IN.get(usize::from(i)).cloned().ok_or(BotError::NotFound)?,
        },
    })
}

/// How a segment reads in `lang`.
pub async fn describe(app: &App, lang: Language, segment: &Segment) -> Result<String, BotError> {
    Ok(match segment {
        Segment::All => t(lang, K_SEG_ALL, &[]),
        Segment::Active => t(lang, K_SEG_ACTIVE, &[]),
        Segment::Inactive => t(lang, K_SEG_INACTIVE, &[]),
        Segment::RegisteredWithin { days } => t(lang, K_SEG_NEW, &[("days", crate::i18n::number(lang, i64::from(*days)))]),
        Segment::Location { location } => t(lang, K_SEG_LOCATION, &[("location", esc(location.as_str()))]),
        Segment::Plan { plan } => {
            let name = projections::views::plan(&app.pool, *plan)
                .await?
                .map(|p| p.name)
                .unwrap_or_default();
            t(lang, K_SEG_PLAN, &[("plan", esc(&name))])
        }
        Segment::Role { role } => t(lang, K_SEG_ROLE, &[("role", esc(role.as_str()))]),
    })
}

async fn broadcast_text(ctx: &Ctx<'_>, segment: Segment, text: &str) -> Result<(), BotError> {
    ctx.require(Permission::ManageContent)?;
    let text = text.trim().to_string();
    let label = describe(ctx.app, ctx.lang, &segment).await?;
    if text.is_empty() || text.chars().count() > domain::broadcast::MAX_TEXT {
        ctx.send(Screen::new(tt(ctx, K_B_WRITE, &[("segment", label)]))).await?;
        return Ok(());
    }
    let id = Uuid::new_v4();
    let nonce: [u8; 8] = id.as_bytes()[..8].try_into().expect("8 bytes");
    ctx.set_session(Session::Ops {
        ops: OpsState::BroadcastConfirm {
            segment,
            text: text.clone(),
            id,
        },
    })
    .await?;
    let screen = Screen::new(tt(ctx, K_B_CONFIRM, &[("segment", label), ("text", esc(&text))])).row(vec![
        ops_btn(ctx, K_BTN_SEND, OpsAction::SendBroadcast(nonce)),
        ctx.btn(tt(ctx, K_BTN_CANCEL, &[]), Action::Cancel),
    ]);
    ctx.send(screen).await?;
    Ok(())
}

async fn send_broadcast(ctx: &Ctx<'_>, nonce: [u8; 8]) -> Result<(), BotError> {
    ctx.require(Permission::ManageContent)?;
    let Session::Ops {
        ops: OpsState::BroadcastConfirm { segment, text, id },
    } = ctx.session().await?
    else {
        // Pressed again after it was queued (or the session moved on).
        return ctx.ack(Some(tt(ctx, K_B_CANCELLED, &[])), false).await;
    };
    if id.as_bytes()[..8] != nonce {
        return Err(BotError::NotFound);
    }
    let label = describe(ctx.app, ctx.lang, &segment).await?;
    let message = ctx.show(Screen::new(tt(ctx, K_B_QUEUED, &[("segment", label)]))).await?;
    let progress = ProgressMessage {
        chat_id: ctx.chat,
        message_id: i64::from(message),
    };
    ctx.app
        .commands
        .create_broadcast(&ctx.actor, id, text, segment, Some(progress), Utc::now())
        .await?;
    ctx.set_session(Session::Idle).await?;
    Ok(())
}

// ---- routing -----------------------------------------------------------------------------

/// Commands this module serves that the bot's command list does not name
/// (`/endchat`, `/online`, `/offline`, `/agents`, `/quickreply`). `Ok(false)`
/// for any other name.
pub async fn command(ctx: &Ctx<'_>, name: &str) -> Result<bool, BotError> {
    match name {
        "endchat" => end_chat(ctx).await?,
        "online" => presence(ctx, true).await?,
        "offline" => presence(ctx, false).await?,
        "agents" => agents(ctx).await?,
        "quickreply" => quick_replies(ctx).await?,
        _ => return Ok(false),
    }
    Ok(true)
}

pub async fn callback(ctx: &Ctx<'_>, action: OpsAction) -> Result<(), BotError> {
    let now = Utc::now();
    match action {
        OpsAction::Reply(chat) => {
            ctx.require(Permission::AnswerSupport)?;
            let state = ctx.app.commands.support_chat(chat).await?;
            if state.agent != Some(ctx.customer()) {
                return Err(CommandError::Support(SupportError::AssignedToOther).into());
            }
            ctx.set_session(Session::Ops {
                ops: OpsState::AgentReply { chat },
            })
            .await?;
            let who = display_name(ctx.app, state.customer.ok_or(BotError::NotFound)?).await?;
            ctx.send(Screen::new(tt(ctx, K_A_REPLYING, &[("who", who)]))).await?;
        }
        OpsAction::Close(chat) => {
            ctx.app.commands.close_support_chat(&ctx.actor, chat, now).await?;
            if let Session::Ops {
                ops: OpsState::AgentReply { chat: c } | OpsState::CustomerChat { chat: c },
            } = ctx.session().await?
            {
                if c == chat {
                    ctx.set_session(Session::Idle).await?;
                }
            }
        }
        OpsAction::QuickMenu(chat) => {
            ctx.require(Permission::AnswerSupport)?;
            let replies = ctx.app.commands.quick_replies().await?;
            let mut screen = Screen::new(tt(ctx, K_BTN_QUICK, &[]));
            for title in replies.replies.keys() {
                screen = screen.button(ctx.btn(
                    title.clone(),
                    Action::Ops(OpsAction::Quick {
                        chat,
                        title: title_hash(title),
                    }),
                ));
            }
            ctx.send(screen).await?;
        }
        OpsAction::Quick { chat, title } => {
            ctx.require(Permission::AnswerSupport)?;
            let replies = ctx.app.commands.quick_replies().await?;
            let name = replies.replies.keys().find(|t| title_hash(t) == title).ok_or(BotError::NotFound)?;
            ctx.app
                .commands
                .send_quick_reply(&ctx.actor, chat, name, ctx.update_id, now)
                .await?;
        }
        OpsAction::Rate { chat, stars } => {
            ctx.app.commands.rate_support_chat(&ctx.actor, chat, stars, now).await?;
            let text = tt(ctx, K_C_THANKS, &[("stars", "⭐".repeat(usize::from(stars)))]);
            ctx.show(Screen::new(text)).await?;
        }
        OpsAction::Presence(on) => presence(ctx, on).await?,
        OpsAction::SegmentMenu(0) => broadcast_menu(ctx).await?,
        OpsAction::SegmentMenu(m) => segment_menu(ctx, m).await?,
        OpsAction::Segment(choice) => {
            ctx.require(Permission::ManageContent)?;
            let segment = segment_of(ctx, choice).await?;
            let label = describe(ctx.app, ctx.lang, &segment).await?;
            ctx.set_session(Session::Ops {
                ops: OpsState::BroadcastText { segment },
            })
            .await?;
            ctx.show(Screen::new(tt(ctx, K_B_WRITE, &[("segment", label)]))).await?;
        }
        OpsAction::SendBroadcast(nonce) => send_broadcast(ctx, nonce).await?,
        OpsAction::CancelBroadcast(id) => {
            ctx.app.commands.cancel_broadcast(&ctx.actor, id, now).await?;
            ctx.show(Screen::new(tt(ctx, K_B_CANCELLED, &[]))).await?;
        }
    }
    Ok(())
}

/// Text while this module waits for something.
pub async fn on_text(ctx: &Ctx<'_>, state: OpsState, text: String) -> Result<(), BotError> {
    let content = ChatContent::Text { text: text.clone() };
    match state {
        OpsState::CustomerChat { chat } => customer_writes(ctx, chat, content).await,
        OpsState::AgentReply { chat } => agent_writes(ctx, chat, content).await,
        OpsState::BroadcastText { segment } | OpsState::BroadcastConfirm { segment, .. } => broadcast_text(ctx, segment, &text).await,
        OpsState::QuickReplyEdit => edit_quick_reply(ctx, &text).await,
    }
}

/// A photo or file while this module waits for something; `Ok(false)` when
/// it is not for a chat (the bot then treats it as a receipt).
pub async fn on_file(ctx: &Ctx<'_>, state: OpsState, file_id: String, photo: bool, caption: Option<String>) -> Result<bool, BotError> {
    let content = if photo {
        ChatContent::Photo { file_id, caption }
    } else {
        ChatContent::Document {
            file_id,
            file_name: None,
            caption,
        }
    };
    match state {
        OpsState::CustomerChat { chat } => customer_writes(ctx, chat, content).await?,
        OpsState::AgentReply { chat } => agent_writes(ctx, chat, content).await?,
        _ => return Ok(false),
    }
    Ok(true)
}

// ---- the relay ----------------------------------------------------------------------------

pub const RELAY_CHECKPOINT: &str = "bot_support_relay";

/// `@username (id)` or the id, escaped, from the customers read model.
async fn display_name(app: &App, id: CustomerId) -> Result<String, BotError> {
    Ok(
        match projections::views::customer(&app.pool, id.0).await?.and_then(|c| c.username) {
            Some(u) => format!("@{} (<code>{}</code>)", esc(&u), id.0),
            None => format!("<code>{}</code>", id.0),
        },
    )
}

/// Carries live-chat events to the people in the chat, as outbox rows.
pub struct SupportRelay {
    pub app: Arc<App>,
}

impl SupportRelay {
    async fn language(&self, id: CustomerId) -> Result<Language, FeedError> {
        Ok(self.app.commands.customer_state(id).await?.map(|c| c.language).unwrap_or_default())
    }

    fn sign(&self, user: CustomerId, lang: Language, buttons: &[(&str, OpsAction)]) -> Vec<Vec<(String, String)>> {
        vec![buttons
            .iter()
            .map(|(key, a)| (t(lang, key, &[]), self.app.signer.sign(user.0, &Action::Ops(a.clone()))))
            .collect()]
    }

    /// `content` as a message: the text under `key` (with `who`), or the
    /// photo or file with that text as its caption.
    fn body(lang: Language, key: &str, who: &str, content: &ChatContent) -> Body {
        let text = |body: &str| t(lang, key, &[("who", who.to_string()), ("text", esc(body))]);
        match content {
            ChatContent::Text { text: body } => Body::html(text(body)),
            ChatContent::Photo { file_id, caption } => Body {
                text: text(caption.as_deref().unwrap_or("📷")),
                html: true,
                photo: Some(file_id.clone()),
                ..Body::default()
            },
            ChatContent::Document { file_id, caption, .. } => Body {
                text: text(caption.as_deref().unwrap_or("📎")),
                html: true,
                document: Some(file_id.clone()),
                ..Body::default()
            },
        }
    }

    fn agent_buttons(&self, agent: CustomerId, lang: Language, chat: Uuid) -> Vec<Vec<(String, String)>> {
        self.sign(
            agent,
            lang,
            &[
                (K_BTN_REPLY, OpsAction::Reply(chat)),
                (K_BTN_QUICK, OpsAction::QuickMenu(chat)),
                (K_BTN_CLOSE_CHAT, OpsAction::Close(chat)),
            ],
        )
    }

    /// The rows `event` queues.
    pub async fn render(&self, e: &StoredEvent) -> Result<Vec<OutRow>, FeedError> {
        let AnyEvent::SupportChat(event) =
            AnyEvent::decode(&e.aggregate_type, &e.payload).map_err(|x| FeedError::Malformed(x.to_string()))?
        else {
            return Ok(Vec::new());
        };
        let chat = Uuid::parse_str(&e.aggregate_id).map_err(|x| FeedError::Malformed(x.to_string()))?;
        let name = |id: CustomerId| async move { display_name(&self.app, id).await.map_err(|x| FeedError::Malformed(x.to_string())) };
        let row = |to: CustomerId, n: usize, body: Body| OutRow {
            key: format!("support:{}:{n}:{}", e.position, to.0),
            chat: to.0,
            kind: Kind::Direct,
            topic: Some("support".into()),
            position: Some(e.position),
            body,
        };
        let mut rows = Vec::new();
        match event {
            SupportChatEvent::ChatAssigned { customer, agent, .. } => {
                let (al, cl) = (self.language(agent).await?, self.language(customer).await?);
                let who = name(customer).await?;
                // The history so far: what the customer wrote before an agent came.
                let earlier: Vec<ChatContent> = eventstore::read_aggregate(&self.app.pool, &e.aggregate_type, &e.aggregate_id)
                    .await?
                    .into_iter()
                    .filter(|h| h.sequence < e.sequence)
                    .filter_map(|h| match AnyEvent::decode(&h.aggregate_type, &h.payload) {
                        Ok(AnyEvent::SupportChat(SupportChatEvent::CustomerWrote { content, .. })) => Some(content),
                        _ => None,
                    })
                    .collect();
                let number = self.app.commands.support_chat(chat).await?.number;
                let mut header = Body::html(t(
                    al,
                    K_A_NEW_CHAT,
                    &[
                        ("who", who.clone()),
                        ("number", crate::i18n::number(al, i64::from(number))),
                        ("count", crate::i18n::number(al, earlier.len() as i64)),
                    ],
                ));
                if earlier.is_empty() {
                    header.buttons = self.agent_buttons(agent, al, chat);
                }
                rows.push(row(agent, 0, header));
                let last = earlier.len();
                for (i, content) in earlier.iter().enumerate() {
                    let mut body = Self::body(al, K_A_CUSTOMER_SAYS, &who, content);
                    if i + 1 == last {
                        body.buttons = self.agent_buttons(agent, al, chat);
                    }
                    rows.push(row(agent, i + 1, body));
                }
                let agent_name = name(agent).await?;
                rows.push(row(customer, 0, Body::html(t(cl, K_C_ASSIGNED, &[("agent", agent_name)]))));
            }
            SupportChatEvent::CustomerWrote {
                customer,
                agent: Some(agent),
                content,
                ..
            } => {
                let al = self.language(agent).await?;
                let mut body = Self::body(al, K_A_CUSTOMER_SAYS, &name(customer).await?, &content);
                body.buttons = self.agent_buttons(agent, al, chat);
                rows.push(row(agent, 0, body));
            }
            SupportChatEvent::AgentReplied { customer, content, .. } => {
                let cl = self.language(customer).await?;
                rows.push(row(customer, 0, Self::body(cl, K_C_AGENT_SAYS, "", &content)));
            }
            SupportChatEvent::ChatClosed { customer, agent, .. } => {
                let cl = self.language(customer).await?;
                let stars: Vec<(String, String)> = (1..=5u8)
                    .map(|s| {
                        (
                            format!("{}⭐", crate::i18n::number(cl, i64::from(s))),
                            self.app.signer.sign(customer.0, &Action::Ops(OpsAction::Rate { chat, stars: s })),
                        )
                    })
                    .collect();
                let mut body = Body::html(t(cl, K_C_CLOSED, &[]));
                body.buttons = vec![stars];
                rows.push(row(customer, 0, body));
                if let Some(agent) = agent {
                    let al = self.language(agent).await?;
                    rows.push(row(agent, 0, Body::html(t(al, K_A_CLOSED, &[("who", name(customer).await?)]))));
                }
            }
            SupportChatEvent::ChatRated {
                customer,
                agent: Some(agent),
                stars,
                ..
            } => {
                let al = self.language(agent).await?;
                let text = t(
                    al,
                    K_A_RATED,
                    &[("who", name(customer).await?), ("stars", "⭐".repeat(usize::from(stars)))],
                );
                rows.push(row(agent, 0, Body::html(text)));
            }
            _ => {}
        }
        Ok(rows)
    }
}

#[async_trait]
impl Consumer for SupportRelay {
    fn name(&self) -> String {
        RELAY_CHECKPOINT.to_string()
    }

    async fn checkpoint(&self) -> Result<i64, FeedError> {
        Ok(eventstore::checkpoint(&self.app.pool, RELAY_CHECKPOINT).await?)
    }

    async fn handle(&self, events: &[StoredEvent]) -> Result<i64, FeedError> {
        let start = self.checkpoint().await?;
        let mut rows: Vec<(i64, OutRow)> = Vec::new();
        let mut last = start;
        for e in events.iter().filter(|e| e.position > start) {
            if e.position != last + 1 {
                return Err(FeedError::Malformed(format!(
                    "expected position {} but got {}",
                    last + 1,
                    e.position
                )));
            }
            for r in self.render(e).await? {
                rows.push((e.position, r));
            }
            last = e.position;
        }
        let mut tx = self.app.pool.begin().await?;
        let locked = eventstore::lock_checkpoint(&mut tx, RELAY_CHECKPOINT).await?;
        let fresh: Vec<OutRow> = rows.into_iter().filter(|(p, _)| *p > locked).map(|(_, r)| r).collect();
        enqueue(&mut *tx, &fresh).await?;
        let done = last.max(locked);
        eventstore::set_checkpoint(&mut tx, RELAY_CHECKPOINT, done).await?;
        tx.commit().await?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_button_round_trips_and_fits_in_callback_data() {
        let c = Uuid::new_v4();
        let all = [
            OpsAction::Reply(c),
            OpsAction::Close(c),
            OpsAction::QuickMenu(c),
            OpsAction::Quick {
                chat: c,
                title: title_hash("hours"),
            },
            OpsAction::Rate { chat: c, stars: 5 },
            OpsAction::Presence(true),
            OpsAction::SegmentMenu(2),
            OpsAction::Segment(SegmentChoice::All),
            OpsAction::Segment(SegmentChoice::New(30)),
            OpsAction::Segment(SegmentChoice::Location(location_handle("France"))),
            OpsAction::Segment(SegmentChoice::Plan(c)),
            OpsAction::Segment(SegmentChoice::Role(4)),
            OpsAction::SendBroadcast([7; 8]),
            OpsAction::CancelBroadcast(c),
        ];
        for a in all {
            let bytes = a.encode();
            assert!(bytes.len() <= 25, "{a:?}");
            assert_eq!(OpsAction::decode(&bytes).unwrap(), a);
            assert!(OpsAction::decode(&bytes[..bytes.len() - 1]).is_err() || bytes.len() == 1);
        }
        assert!(OpsAction::decode(&[99]).is_err());
        for key in k::ALL {
            assert!(tgops::texts::keys().any(|x| x == *key), "{key} is not in the tgops catalog");
        }
        assert!(OpsAction::decode(&[6, 1, 0]).is_err(), "trailing bytes are refused");
    }
}
