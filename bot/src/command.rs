//! What a person typed, as a typed command. `/cmd@this_bot args` and `/cmd
//! args` both parse; a command addressed to another bot is not ours.
use teloxide::types::{Message, Update, UpdateKind};

use crate::callback::{Action, CallbackError, Signer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/start`, with the deep-link payload (`ref_<telegram id>` for referrals).
    Start(Option<String>),
    Help,
    Language,
    Plans,
    Wallet,
    Transactions,
    Subscription,
    Profile,
    Points,
    Payment,
    Support,
    Chat,
    Cancel,
    // staff
    Admin,
    Users,
    Payments,
    Subscriptions,
    Settings,
    Broadcast,
    Stats,
    Servers,
    Cards,
    Reports,
    License,
    // sellers
    Seller,
    Sales,
    Commission,
    Withdraw,
    /// Staff: open withdrawals.
    Withdrawals,
    Balance,
    Unknown(String),
}

impl Command {
    /// The commands shown in Telegram's menu (`setMyCommands`), customers' first.
    pub const MENU: [(&'static str, &'static str, &'static str); 9] = [
        ("start", "Start / main menu", "شروع / منوی اصلی"),
        ("plans", "Buy a subscription", "خرید اشتراک"),
        ("wallet", "Wallet and top-up", "کیف پول و شارژ"),
        ("subscription", "My subscriptions", "اشتراک‌های من"),
        ("payment", "My payments", "پرداخت‌های من"),
        ("transactions", "Wallet history", "تاریخچه کیف پول"),
        ("profile", "Profile and invite link", "حساب و لینک دعوت"),
        ("language", "Language", "زبان"),
        ("help", "Help", "راهنما"),
    ];

    /// Parses `text` if it is a command for this bot (`bot_username` without `@`).
    pub fn parse(text: &str, bot_username: &str) -> Option<Command> {
        let text = text.trim();
        let rest = text.strip_prefix('/')?;
        let (head, args) = match rest.split_once(char::is_whitespace) {
            Some((h, a)) => (h, a.trim()),
            None => (rest, ""),
        };
        let name = match head.split_once('@') {
            Some((name, to)) if to.eq_ignore_ascii_case(bot_username) => name,
            Some(_) => return None,
            None => head,
        };
        let args = (!args.is_empty()).then(|| args.to_string());
        Some(match name.to_ascii_lowercase().as_str() {
            "start" => Command::Start(args),
            "help" => Command::Help,
            "language" | "lang" => Command::Language,
            "plans" | "buy" => Command::Plans,
            "wallet" => Command::Wallet,
            "transactions" => Command::Transactions,
            "subscription" | "subscriptions_my" => Command::Subscription,
            "profile" => Command::Profile,
            "points" => Command::Points,
            "payment" => Command::Payment,
            "support" => Command::Support,
            "chat" => Command::Chat,
            "cancel" => Command::Cancel,
            "admin" => Command::Admin,
            "users" => Command::Users,
            "payments" => Command::Payments,
            "subscriptions" => Command::Subscriptions,
            "settings" => Command::Settings,
            "broadcast" => Command::Broadcast,
            "stats" => Command::Stats,
            "servers" => Command::Servers,
            "cards" => Command::Cards,
            "reports" => Command::Reports,
            "license" => Command::License,
            "seller" => Command::Seller,
            "sales" => Command::Sales,
            "commission" => Command::Commission,
            "withdraw" => Command::Withdraw,
            "withdrawals" => Command::Withdrawals,
            "balance" => Command::Balance,
            other => Command::Unknown(other.to_string()),
        })
    }
}

/// Who sent an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub id: i64,
    pub first_name: String,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

/// An update, reduced to what the bot acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Command(Command),
    /// A button press with a valid signature.
    Callback {
        query_id: String,
        message_id: Option<i32>,
        action: Action,
    },
    /// A button press whose data the bot did not make for this person.
    ForgedCallback {
        query_id: String,
        error: CallbackError,
    },
    /// A photo (largest size) or an image/PDF document: a receipt.
    File {
        file_id: String,
        /// A photo (as opposed to a document).
        photo: bool,
        caption: Option<String>,
    },
    Text(String),
    /// Anything else (stickers, edits, other update kinds): ignored.
    Other,
}

/// An update the bot handles: who, in which chat, what.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub update_id: i64,
    pub chat_id: i64,
    pub from: Sender,
    pub input: Input,
}

fn sender(u: &teloxide::types::User) -> Sender {
    Sender {
        id: u.id.0 as i64,
        first_name: u.first_name.clone(),
        username: u.username.clone(),
        language_code: u.language_code.clone(),
    }
}

fn from_message(m: &Message, bot_username: &str) -> Option<(i64, Sender, Input)> {
    let from = sender(m.from.as_ref()?);
    if !m.chat.is_private() {
        return None; // the bot serves people in private chats
    }
    let input = if let Some(photo) = m.photo().and_then(|p| p.iter().max_by_key(|s| s.width * s.height)) {
        Input::File {
            file_id: photo.file.id.0.clone(),
            photo: true,
            caption: m.caption().map(str::to_string),
        }
    } else if let Some(doc) = m.document() {
        Input::File {
            file_id: doc.file.id.0.clone(),
            photo: false,
            caption: m.caption().map(str::to_string),
        }
    } else if let Some(text) = m.text() {
        match Command::parse(text, bot_username) {
            Some(c) => Input::Command(c),
            None => Input::Text(text.to_string()),
        }
    } else {
        Input::Other
    };
    Some((m.chat.id.0, from, input))
}

/// Reads an update; `None` for updates the bot does not serve (groups, channels, other kinds).
pub fn incoming(update: &Update, bot_username: &str, signer: &Signer) -> Option<Incoming> {
    let update_id = update.id.0 as i64;
    let (chat_id, from, input) = match &update.kind {
        UpdateKind::Message(m) => from_message(m, bot_username)?,
        UpdateKind::CallbackQuery(q) => {
            let from = sender(&q.from);
            let chat_id = q.message.as_ref().map(|m| m.chat().id.0).unwrap_or(from.id);
            let message_id = q.message.as_ref().map(|m| m.id().0);
            let input = match q.data.as_deref().map(|d| signer.verify(from.id, d)) {
                Some(Ok(action)) => Input::Callback {
                    query_id: q.id.0.clone(),
                    message_id,
                    action,
                },
                Some(Err(error)) => Input::ForgedCallback {
                    query_id: q.id.0.clone(),
                    error,
                },
                None => Input::ForgedCallback {
                    query_id: q.id.0.clone(),
                    error: CallbackError::Malformed,
                },
            };
            (chat_id, from, input)
        }
        _ => return None,
    };
    Some(Incoming {
        update_id,
        chat_id,
        from,
        input,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_arguments_and_bot_names() {
        assert_eq!(
            Command::parse("/start ref_42", "mrj_bot"),
            Some(Command::Start(Some("ref_42".into())))
        );
        assert_eq!(Command::parse("/start", "mrj_bot"), Some(Command::Start(None)));
        assert_eq!(Command::parse("/Plans@MRJ_bot", "mrj_bot"), Some(Command::Plans));
        assert_eq!(Command::parse("/plans@other_bot", "mrj_bot"), None);
        assert_eq!(Command::parse("hello", "mrj_bot"), None);
        assert_eq!(Command::parse("/nope", "mrj_bot"), Some(Command::Unknown("nope".into())));
    }
}
