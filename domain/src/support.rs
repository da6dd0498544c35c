//! Live chat support.
//!
//! - [`SupportChat`] (id = a UUID, see [`chat_id`]): one conversation between
//!   a customer and support. It opens in the queue, is assigned to one agent
//!   (someone with `answer_support`), carries the messages both ways (text,
//!   photos, files), closes, and is rated 1–5 once by the customer. Every
//!   agent reply carries how long the customer had been waiting, so response
//!   times are facts in the events.
//! - [`SupportAgent`] (id = the agent's Telegram id): online or offline; the
//!   dispatcher assigns queued chats to the least busy agent online.
//! - [`QuickReplies`] (one, id [`QuickReplies::ID`]): canned answers agents send
//!   with one button.
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};
use crate::values::CustomerId;

/// The id of a customer's `number`th conversation (1, 2, …): deterministic,
/// so two updates opening "the next chat" at once name the same chat and
/// only one of them opens it.
pub fn chat_id(customer: CustomerId, number: u32) -> Uuid {
    const NS: Uuid = Uuid::from_u128(0x6d72_6a62_6f74_2d73_7570_706f_7274_0001);
    Uuid::new_v5(&NS, format!("support:{}:{number}", customer.0).as_bytes())
}

pub const MAX_TEXT: usize = 4096;
pub const MAX_CAPTION: usize = 1024;

/// A message in a chat: text, a photo or a file (Telegram file ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ChatContent {
    Text {
        text: String,
    },
    Photo {
        file_id: String,
        caption: Option<String>,
    },
    Document {
        file_id: String,
        file_name: Option<String>,
        caption: Option<String>,
    },
}

impl ChatContent {
    /// Trims and checks lengths (Telegram's limits: 4096 for text, 1024 for a caption).
    pub fn validated(self) -> Result<ChatContent, SupportError> {
        fn caption(c: Option<String>) -> Result<Option<String>, SupportError> {
            let c = c.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
            if c.as_ref().is_some_and(|c| c.chars().count() > MAX_CAPTION) {
                return Err(SupportError::TooLong);
            }
            Ok(c)
        }
        fn file(id: &str) -> Result<(), SupportError> {
            if id.is_empty() || id.len() > 256 || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(SupportError::InvalidFile);
            }
            Ok(())
        }
        Ok(match self {
            ChatContent::Text { text } => {
                let text = text.trim().to_string();
                if text.is_empty() {
                    return Err(SupportError::EmptyMessage);
                }
                if text.chars().count() > MAX_TEXT {
                    return Err(SupportError::TooLong);
                }
                ChatContent::Text { text }
            }
            ChatContent::Photo { file_id, caption: c } => {
                file(&file_id)?;
                ChatContent::Photo {
                    file_id,
                    caption: caption(c)?,
                }
            }
            ChatContent::Document {
                file_id,
                file_name,
                caption: c,
            } => {
                file(&file_id)?;
                let file_name = file_name
                    .map(|n| n.trim().chars().take(128).collect::<String>())
                    .filter(|n| !n.is_empty());
                ChatContent::Document {
                    file_id,
                    file_name,
                    caption: caption(c)?,
                }
            }
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ChatContent::Text { .. } => "text",
            ChatContent::Photo { .. } => "photo",
            ChatContent::Document { .. } => "document",
        }
    }

    /// The text, or the caption of a photo or file.
    pub fn text(&self) -> Option<&str> {
        match self {
            ChatContent::Text { text } => Some(text),
            ChatContent::Photo { caption, .. } | ChatContent::Document { caption, .. } => caption.as_deref(),
        }
    }

    pub fn file_id(&self) -> Option<&str> {
        match self {
            ChatContent::Text { .. } => None,
            ChatContent::Photo { file_id, .. } | ChatContent::Document { file_id, .. } => Some(file_id),
        }
    }
}

// ---- the chat ----------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SupportChatCommand {
    Open {
        id: Uuid,
        customer: CustomerId,
        number: u32,
        /// Whether live chat is switched on (the `chat` feature), loaded by the caller.
        chat_enabled: bool,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// The dispatcher gives the chat to `agent` (the agent's own actor, so
    /// their permission is checked here).
    Assign { agent: Actor, at: DateTime<Utc> },
    /// A message from the customer. `message_id` is Telegram's id of it in
    /// the customer's chat: the same message posted twice is recorded once.
    PostCustomerMessage {
        by: Actor,
        message_id: i64,
        content: ChatContent,
        at: DateTime<Utc>,
    },
    /// The assigned agent answers. `message_id` as above, in the agent's chat.
    Reply {
        by: Actor,
        message_id: i64,
        content: ChatContent,
        at: DateTime<Utc>,
    },
    /// By the customer, the assigned agent, or anyone with `answer_support`.
    Close { by: Actor, at: DateTime<Utc> },
    /// 1 to 5 stars, once, by the customer, after the chat closed.
    Rate { by: Actor, stars: u8, at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SupportChatEvent {
    ChatOpened {
        id: Uuid,
        customer: CustomerId,
        number: u32,
        at: DateTime<Utc>,
    },
    ChatAssigned {
        customer: CustomerId,
        agent: CustomerId,
        /// Seconds the chat waited in the queue.
        queued_secs: i64,
        at: DateTime<Utc>,
    },
    CustomerWrote {
        customer: CustomerId,
        /// The agent the message goes to, if the chat is assigned.
        agent: Option<CustomerId>,
        message_id: i64,
        content: ChatContent,
        at: DateTime<Utc>,
    },
    AgentReplied {
        customer: CustomerId,
        agent: CustomerId,
        message_id: i64,
        content: ChatContent,
        /// Seconds since the oldest customer message this reply answers
        /// (`None` when the agent writes again before the customer does).
        response_secs: Option<i64>,
        /// This is the agent's first answer in the chat.
        first: bool,
        at: DateTime<Utc>,
    },
    ChatClosed {
        customer: CustomerId,
        agent: Option<CustomerId>,
        by: ActorRef,
        /// Seconds from opening to closing.
        duration_secs: i64,
        at: DateTime<Utc>,
    },
    ChatRated {
        customer: CustomerId,
        agent: Option<CustomerId>,
        stars: u8,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for SupportChatEvent {
    fn event_type(&self) -> String {
        match self {
            SupportChatEvent::ChatOpened { .. } => "ChatOpened",
            SupportChatEvent::ChatAssigned { .. } => "ChatAssigned",
            SupportChatEvent::CustomerWrote { .. } => "CustomerWrote",
            SupportChatEvent::AgentReplied { .. } => "AgentReplied",
            SupportChatEvent::ChatClosed { .. } => "ChatClosed",
            SupportChatEvent::ChatRated { .. } => "ChatRated",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupportError {
    #[error("live chat is switched off")]
    ChatDisabled,
    #[error("this chat already exists")]
    AlreadyExists,
    #[error("no such chat")]
    NotFound,
    #[error("this is not your chat")]
    NotYourChat,
    #[error("the chat is closed")]
    Closed,
    #[error("the chat is still open")]
    StillOpen,
    #[error("the chat is already assigned to agent {0}")]
    AlreadyAssigned(CustomerId),
    #[error("the chat is assigned to another agent")]
    AssignedToOther,
    #[error("the chat is waiting for an agent")]
    NotAssigned,
    #[error("a rating is 1 to 5 stars")]
    InvalidRating,
    #[error("the chat is already rated")]
    AlreadyRated,
    #[error("an empty message")]
    EmptyMessage,
    #[error("the message is too long")]
    TooLong,
    #[error("not a valid Telegram file")]
    InvalidFile,
    #[error("a quick reply's title is 1 to 32 characters and its text 1 to 4096")]
    InvalidQuickReply,
    #[error("there can be at most {0} quick replies")]
    TooManyQuickReplies(usize),
    #[error("no quick reply named `{0}`")]
    NoSuchQuickReply(String),
    #[error("only the agent themselves or a user manager may do this")]
    NotThisAgent,
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatStatus {
    #[default]
    New,
    Queued,
    Assigned,
    Closed,
}

impl ChatStatus {
    pub fn name(self) -> &'static str {
        match self {
            ChatStatus::New => "new",
            ChatStatus::Queued => "queued",
            ChatStatus::Assigned => "assigned",
            ChatStatus::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SupportChat {
    pub id: Option<Uuid>,
    pub customer: Option<CustomerId>,
    pub number: u32,
    pub status: ChatStatus,
    pub agent: Option<CustomerId>,
    pub opened_at: Option<DateTime<Utc>>,
    /// When the oldest customer message not yet answered arrived.
    pub awaiting_since: Option<DateTime<Utc>>,
    pub answered: bool,
    pub rating: Option<u8>,
    /// Telegram message ids already recorded (customer's and agents').
    pub seen: BTreeSet<(i64, i64)>,
}

impl SupportChat {
    fn owner(&self) -> Result<CustomerId, SupportError> {
        self.customer.ok_or(SupportError::NotFound)
    }
    fn open(&self) -> Result<CustomerId, SupportError> {
        let c = self.owner()?;
        if self.status == ChatStatus::Closed {
            return Err(SupportError::Closed);
        }
        Ok(c)
    }
    pub fn is_open(&self) -> bool {
        matches!(self.status, ChatStatus::Queued | ChatStatus::Assigned)
    }
}

impl Aggregate for SupportChat {
    const TYPE: &'static str = "SupportChat";
    type Command = SupportChatCommand;
    type Event = SupportChatEvent;
    type Error = SupportError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        use SupportChatCommand as C;
        use SupportChatEvent as E;
        let event = match command {
            C::Open {
                id,
                customer,
                number,
                chat_enabled,
                by,
                at,
            } => {
                if self.id.is_some() {
                    return Err(SupportError::AlreadyExists);
                }
                if by.customer_id() != Some(customer) && !matches!(by, Actor::System) {
                    return Err(SupportError::NotYourChat);
                }
                if !chat_enabled {
                    return Err(SupportError::ChatDisabled);
                }
                E::ChatOpened { id, customer, number, at }
            }
            C::Assign { agent, at } => {
                let customer = self.open()?;
                agent.require(Permission::AnswerSupport)?;
                let agent_id = agent.customer_id().ok_or(SupportError::NotThisAgent)?;
                if let Some(current) = self.agent {
                    if current == agent_id {
                        return Ok(());
                    }
                    return Err(SupportError::AlreadyAssigned(current));
                }
                let queued_secs = self.opened_at.map_or(0, |o| (at - o).num_seconds().max(0));
                E::ChatAssigned {
                    customer,
                    agent: agent_id,
                    queued_secs,
                    at,
                }
            }
            C::PostCustomerMessage {
                by,
                message_id,
                content,
                at,
            } => {
                let customer = self.open()?;
                if by.customer_id() != Some(customer) {
                    return Err(SupportError::NotYourChat);
                }
                if self.seen.contains(&(customer.0, message_id)) {
                    return Ok(());
                }
                E::CustomerWrote {
                    customer,
                    agent: self.agent,
                    message_id,
                    content: content.validated()?,
                    at,
                }
            }
            C::Reply {
                by,
                message_id,
                content,
                at,
            } => {
                let customer = self.open()?;
                by.require(Permission::AnswerSupport)?;
                let me = by.customer_id().ok_or(SupportError::NotThisAgent)?;
                match self.agent {
                    None => return Err(SupportError::NotAssigned),
                    Some(a) if a != me => return Err(SupportError::AssignedToOther),
                    Some(_) => {}
                }
                if self.seen.contains(&(me.0, message_id)) {
                    return Ok(());
                }
                E::AgentReplied {
                    customer,
                    agent: me,
                    message_id,
                    content: content.validated()?,
                    response_secs: self.awaiting_since.map(|s| (at - s).num_seconds().max(0)),
                    first: !self.answered,
                    at,
                }
            }
            C::Close { by, at } => {
                let customer = self.owner()?;
                if self.status == ChatStatus::Closed {
                    return Ok(());
                }
                let allowed = by.customer_id() == Some(customer)
                    || (by.customer_id().is_some() && by.customer_id() == self.agent)
                    || by.has(Permission::AnswerSupport);
                if !allowed {
                    return Err(SupportError::NotYourChat);
                }
                E::ChatClosed {
                    customer,
                    agent: self.agent,
                    by: by.reference(),
                    duration_secs: self.opened_at.map_or(0, |o| (at - o).num_seconds().max(0)),
                    at,
                }
            }
            C::Rate { by, stars, at } => {
                let customer = self.owner()?;
                if by.customer_id() != Some(customer) {
                    return Err(SupportError::NotYourChat);
                }
                if self.status != ChatStatus::Closed {
                    return Err(SupportError::StillOpen);
                }
                if !(1..=5).contains(&stars) {
                    return Err(SupportError::InvalidRating);
                }
                match self.rating {
                    Some(s) if s == stars => return Ok(()), // the same button twice
                    Some(_) => return Err(SupportError::AlreadyRated),
                    None => {}
                }
                E::ChatRated {
                    customer,
                    agent: self.agent,
                    stars,
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use SupportChatEvent as E;
        match event {
            E::ChatOpened { id, customer, number, at } => {
                self.id = Some(id);
                self.customer = Some(customer);
                self.number = number;
                self.status = ChatStatus::Queued;
                self.opened_at = Some(at);
            }
            E::ChatAssigned { agent, .. } => {
                self.agent = Some(agent);
                self.status = ChatStatus::Assigned;
            }
            E::CustomerWrote {
                customer, message_id, at, ..
            } => {
                self.seen.insert((customer.0, message_id));
                if self.awaiting_since.is_none() {
                    self.awaiting_since = Some(at);
                }
            }
            E::AgentReplied { agent, message_id, .. } => {
                self.seen.insert((agent.0, message_id));
                self.awaiting_since = None;
                self.answered = true;
            }
            E::ChatClosed { .. } => {
                self.status = ChatStatus::Closed;
                self.awaiting_since = None;
            }
            E::ChatRated { stars, .. } => self.rating = Some(stars),
        }
    }
}

// ---- agents' presence ------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SupportAgentCommand {
    /// `agent` is the id of this aggregate; `by` is the agent (or a user manager).
    GoOnline {
        agent: CustomerId,
        by: Actor,
        at: DateTime<Utc>,
    },
    GoOffline {
        agent: CustomerId,
        by: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SupportAgentEvent {
    AgentWentOnline {
        agent: CustomerId,
        at: DateTime<Utc>,
    },
    AgentWentOffline {
        agent: CustomerId,
        by: ActorRef,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for SupportAgentEvent {
    fn event_type(&self) -> String {
        match self {
            SupportAgentEvent::AgentWentOnline { .. } => "AgentWentOnline",
            SupportAgentEvent::AgentWentOffline { .. } => "AgentWentOffline",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SupportAgent {
    pub agent: Option<CustomerId>,
    pub online: bool,
}

impl Aggregate for SupportAgent {
    const TYPE: &'static str = "SupportAgent";
    type Command = SupportAgentCommand;
    type Event = SupportAgentEvent;
    type Error = SupportError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            SupportAgentCommand::GoOnline { agent, by, at } => {
                if by.customer_id() != Some(agent) {
                    return Err(SupportError::NotThisAgent);
                }
                by.require(Permission::AnswerSupport)?;
                if self.online {
                    return Ok(());
                }
                SupportAgentEvent::AgentWentOnline { agent, at }
            }
            SupportAgentCommand::GoOffline { agent, by, at } => {
                if by.customer_id() != Some(agent) {
                    by.require(Permission::ManageUsers).map_err(|_| SupportError::NotThisAgent)?;
                }
                if !self.online {
                    return Ok(());
                }
                SupportAgentEvent::AgentWentOffline {
                    agent,
                    by: by.reference(),
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            SupportAgentEvent::AgentWentOnline { agent, .. } => {
                self.agent = Some(agent);
                self.online = true;
            }
            SupportAgentEvent::AgentWentOffline { agent, .. } => {
                self.agent = Some(agent);
                self.online = false;
            }
        }
    }
}

// ---- quick replies ------------------------------------------------------------------

pub const MAX_QUICK_REPLIES: usize = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QuickReplyCommand {
    Save {
        title: String,
        text: String,
        by: Actor,
        at: DateTime<Utc>,
    },
    Remove {
        title: String,
        by: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QuickReplyEvent {
    QuickReplySaved {
        title: String,
        text: String,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    QuickReplyRemoved {
        title: String,
        by: ActorRef,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for QuickReplyEvent {
    fn event_type(&self) -> String {
        match self {
            QuickReplyEvent::QuickReplySaved { .. } => "QuickReplySaved",
            QuickReplyEvent::QuickReplyRemoved { .. } => "QuickReplyRemoved",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuickReplies {
    pub replies: BTreeMap<String, String>,
}

impl QuickReplies {
    pub const ID: &'static str = "support";
}

impl Aggregate for QuickReplies {
    const TYPE: &'static str = "QuickReplies";
    type Command = QuickReplyCommand;
    type Event = QuickReplyEvent;
    type Error = SupportError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            QuickReplyCommand::Save { title, text, by, at } => {
                by.require(Permission::ManageContent)?;
                let title = title.trim().to_string();
                let text = text.trim().to_string();
                let ok = (1..=32).contains(&title.chars().count()) && (1..=MAX_TEXT).contains(&text.chars().count());
                if !ok || title.chars().any(char::is_control) {
                    return Err(SupportError::InvalidQuickReply);
                }
                if self.replies.get(&title) == Some(&text) {
                    return Ok(());
                }
                if !self.replies.contains_key(&title) && self.replies.len() >= MAX_QUICK_REPLIES {
                    return Err(SupportError::TooManyQuickReplies(MAX_QUICK_REPLIES));
                }
                QuickReplyEvent::QuickReplySaved {
                    title,
                    text,
                    by: by.reference(),
                    at,
                }
            }
            QuickReplyCommand::Remove { title, by, at } => {
                by.require(Permission::ManageContent)?;
                let title = title.trim().to_string();
                if !self.replies.contains_key(&title) {
                    return Err(SupportError::NoSuchQuickReply(title));
                }
                QuickReplyEvent::QuickReplyRemoved {
                    title,
                    by: by.reference(),
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            QuickReplyEvent::QuickReplySaved { title, text, .. } => {
                self.replies.insert(title, text);
            }
            QuickReplyEvent::QuickReplyRemoved { title, .. } => {
                self.replies.remove(&title);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::t0;
    use chrono::Duration;
    use cqrs_es::test::TestFramework;

    type Chat = TestFramework<SupportChat>;
    const CUSTOMER: CustomerId = CustomerId(500);
    const AGENT: CustomerId = CustomerId(900);
    const OTHER_AGENT: CustomerId = CustomerId(901);

    fn customer() -> Actor {
        Actor::user(CUSTOMER, [])
    }
    fn agent(id: CustomerId) -> Actor {
        Actor::user(id, [Permission::AnswerSupport])
    }
    fn id() -> Uuid {
        chat_id(CUSTOMER, 1)
    }
    fn text(t: &str) -> ChatContent {
        ChatContent::Text { text: t.into() }
    }
    fn opened() -> SupportChatEvent {
        SupportChatEvent::ChatOpened {
            id: id(),
            customer: CUSTOMER,
            number: 1,
            at: t0(),
        }
    }
    fn assigned() -> SupportChatEvent {
        SupportChatEvent::ChatAssigned {
            customer: CUSTOMER,
            agent: AGENT,
            queued_secs: 30,
            at: t0() + Duration::seconds(30),
        }
    }
    fn wrote(message_id: i64, secs: i64) -> SupportChatEvent {
        SupportChatEvent::CustomerWrote {
            customer: CUSTOMER,
            agent: Some(AGENT),
            message_id,
            content: text("hello"),
            at: t0() + Duration::seconds(secs),
        }
    }
    fn open(enabled: bool) -> SupportChatCommand {
        SupportChatCommand::Open {
            id: id(),
            customer: CUSTOMER,
            number: 1,
            chat_enabled: enabled,
            by: customer(),
            at: t0(),
        }
    }

    #[test]
    fn a_customer_opens_a_chat_when_chat_is_switched_on() {
        Chat::with(())
            .given_no_previous_events()
            .when(open(true))
            .then_expect_events(vec![opened()]);
        Chat::with(())
            .given_no_previous_events()
            .when(open(false))
            .then_expect_error(SupportError::ChatDisabled);
        Chat::with(())
            .given(vec![opened()])
            .when(open(true))
            .then_expect_error(SupportError::AlreadyExists);
    }

    #[test]
    fn chat_ids_are_deterministic_per_customer_and_number() {
        assert_eq!(chat_id(CUSTOMER, 1), chat_id(CUSTOMER, 1));
        assert_ne!(chat_id(CUSTOMER, 1), chat_id(CUSTOMER, 2));
        assert_ne!(chat_id(CUSTOMER, 1), chat_id(AGENT, 1));
    }

    #[test]
    fn only_an_agent_is_assigned_and_only_once() {
        Chat::with(())
            .given(vec![opened()])
            .when(SupportChatCommand::Assign {
                agent: agent(AGENT),
                at: t0() + Duration::seconds(30),
            })
            .then_expect_events(vec![assigned()]);
        Chat::with(())
            .given(vec![opened()])
            .when(SupportChatCommand::Assign {
                agent: Actor::user(AGENT, [Permission::Sell]),
                at: t0(),
            })
            .then_expect_error(SupportError::Denied(PermissionDenied(Permission::AnswerSupport)));
        Chat::with(())
            .given(vec![opened(), assigned()])
            .when(SupportChatCommand::Assign {
                agent: agent(OTHER_AGENT),
                at: t0(),
            })
            .then_expect_error(SupportError::AlreadyAssigned(AGENT));
    }

    #[test]
    fn a_reply_carries_how_long_the_customer_waited() {
        Chat::with(())
            .given(vec![opened(), assigned(), wrote(10, 40), wrote(11, 50)])
            .when(SupportChatCommand::Reply {
                by: agent(AGENT),
                message_id: 3,
                content: text("hi, how can I help?"),
                at: t0() + Duration::seconds(100),
            })
            .then_expect_events(vec![SupportChatEvent::AgentReplied {
                customer: CUSTOMER,
                agent: AGENT,
                message_id: 3,
                content: text("hi, how can I help?"),
                response_secs: Some(60),
                first: true,
                at: t0() + Duration::seconds(100),
            }]);
    }

    #[test]
    fn only_the_assigned_agent_replies() {
        Chat::with(())
            .given(vec![opened(), assigned()])
            .when(SupportChatCommand::Reply {
                by: agent(OTHER_AGENT),
                message_id: 1,
                content: text("me too"),
                at: t0(),
            })
            .then_expect_error(SupportError::AssignedToOther);
        Chat::with(())
            .given(vec![opened()])
            .when(SupportChatCommand::Reply {
                by: agent(AGENT),
                message_id: 1,
                content: text("hi"),
                at: t0(),
            })
            .then_expect_error(SupportError::NotAssigned);
    }

    #[test]
    fn the_same_telegram_message_is_recorded_once_and_empty_ones_never() {
        Chat::with(())
            .given(vec![opened(), assigned(), wrote(10, 40)])
            .when(SupportChatCommand::PostCustomerMessage {
                by: customer(),
                message_id: 10,
                content: text("hello"),
                at: t0(),
            })
            .then_expect_events(vec![]);
        Chat::with(())
            .given(vec![opened()])
            .when(SupportChatCommand::PostCustomerMessage {
                by: customer(),
                message_id: 12,
                content: text("   "),
                at: t0(),
            })
            .then_expect_error(SupportError::EmptyMessage);
        Chat::with(())
            .given(vec![opened()])
            .when(SupportChatCommand::PostCustomerMessage {
                by: Actor::user(CustomerId(77), []),
                message_id: 12,
                content: text("let me in"),
                at: t0(),
            })
            .then_expect_error(SupportError::NotYourChat);
    }

    #[test]
    fn photos_and_files_are_messages_too() {
        Chat::with(())
            .given(vec![opened()])
            .when(SupportChatCommand::PostCustomerMessage {
                by: customer(),
                message_id: 12,
                content: ChatContent::Photo {
                    file_id: "AgACphoto".into(),
                    caption: Some("  the error  ".into()),
                },
                at: t0(),
            })
            .then_expect_events(vec![SupportChatEvent::CustomerWrote {
                customer: CUSTOMER,
                agent: None,
                message_id: 12,
                content: ChatContent::Photo {
                    file_id: "AgACphoto".into(),
                    caption: Some("the error".into()),
                },
                at: t0(),
            }]);
    }

    #[test]
    fn a_closed_chat_takes_no_messages_and_is_rated_once_by_its_customer() {
        let closed = SupportChatEvent::ChatClosed {
            customer: CUSTOMER,
            agent: Some(AGENT),
            by: ActorRef::User(AGENT),
            duration_secs: 600,
            at: t0() + Duration::seconds(600),
        };
        Chat::with(())
            .given(vec![opened(), assigned()])
            .when(SupportChatCommand::Close {
                by: agent(AGENT),
                at: t0() + Duration::seconds(600),
            })
            .then_expect_events(vec![closed.clone()]);
        let history = vec![opened(), assigned(), closed];
        Chat::with(())
            .given(history.clone())
            .when(SupportChatCommand::PostCustomerMessage {
                by: customer(),
                message_id: 99,
                content: text("one more thing"),
                at: t0(),
            })
            .then_expect_error(SupportError::Closed);
        let rated = SupportChatEvent::ChatRated {
            customer: CUSTOMER,
            agent: Some(AGENT),
            stars: 5,
            at: t0(),
        };
        let rate = |by: Actor, stars| SupportChatCommand::Rate { by, stars, at: t0() };
        Chat::with(())
            .given(history.clone())
            .when(rate(customer(), 5))
            .then_expect_events(vec![rated.clone()]);
        Chat::with(())
            .given(history.clone())
            .when(rate(customer(), 6))
            .then_expect_error(SupportError::InvalidRating);
        Chat::with(())
            .given(history.clone())
            .when(rate(agent(AGENT), 5))
            .then_expect_error(SupportError::NotYourChat);
        let mut rated_history = history;
        rated_history.push(rated);
        Chat::with(())
            .given(rated_history.clone())
            .when(rate(customer(), 5))
            .then_expect_events(vec![]);
        Chat::with(())
            .given(rated_history)
            .when(rate(customer(), 1))
            .then_expect_error(SupportError::AlreadyRated);
        Chat::with(())
            .given(vec![opened()])
            .when(rate(customer(), 4))
            .then_expect_error(SupportError::StillOpen);
    }

    #[test]
    fn strangers_cannot_close_a_chat() {
        Chat::with(())
            .given(vec![opened(), assigned()])
            .when(SupportChatCommand::Close {
                by: Actor::user(CustomerId(77), []),
                at: t0(),
            })
            .then_expect_error(SupportError::NotYourChat);
    }

    #[test]
    fn agents_switch_themselves_online_and_need_the_permission() {
        type Agent = TestFramework<SupportAgent>;
        Agent::with(())
            .given_no_previous_events()
            .when(SupportAgentCommand::GoOnline {
                agent: AGENT,
                by: agent(AGENT),
                at: t0(),
            })
            .then_expect_events(vec![SupportAgentEvent::AgentWentOnline { agent: AGENT, at: t0() }]);
        Agent::with(())
            .given_no_previous_events()
            .when(SupportAgentCommand::GoOnline {
                agent: CUSTOMER,
                by: customer(),
                at: t0(),
            })
            .then_expect_error(SupportError::Denied(PermissionDenied(Permission::AnswerSupport)));
        Agent::with(())
            .given_no_previous_events()
            .when(SupportAgentCommand::GoOnline {
                agent: AGENT,
                by: agent(OTHER_AGENT),
                at: t0(),
            })
            .then_expect_error(SupportError::NotThisAgent);
    }

    #[test]
    fn quick_replies_need_manage_content_and_are_bounded() {
        type Replies = TestFramework<QuickReplies>;
        let editor = Actor::user(AGENT, [Permission::ManageContent]);
        Replies::with(())
            .given_no_previous_events()
            .when(QuickReplyCommand::Save {
                title: " hours ".into(),
                text: "We answer 9–21 Tehran time.".into(),
                by: editor.clone(),
                at: t0(),
            })
            .then_expect_events(vec![QuickReplyEvent::QuickReplySaved {
                title: "hours".into(),
                text: "We answer 9–21 Tehran time.".into(),
                by: ActorRef::User(AGENT),
                at: t0(),
            }]);
        Replies::with(())
            .given_no_previous_events()
            .when(QuickReplyCommand::Save {
                title: "hours".into(),
                text: "x".into(),
                by: agent(AGENT),
                at: t0(),
            })
            .then_expect_error(SupportError::Denied(PermissionDenied(Permission::ManageContent)));
        Replies::with(())
            .given_no_previous_events()
            .when(QuickReplyCommand::Remove {
                title: "nope".into(),
                by: editor,
                at: t0(),
            })
            .then_expect_error(SupportError::NoSuchQuickReply("nope".into()));
    }
}
