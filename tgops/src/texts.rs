//! The message catalog of the staff groups, reminders, live chat and
//! broadcasts, in English and Persian. A text is HTML (Telegram's parse
//! mode) with `{name}` placeholders; values are escaped by the caller. A test
//! checks that both languages have every key with the same placeholders.
use domain::Language;

/// (key, English, Persian)
const CATALOG: &[(&str, &str, &str)] = &[
    // ---- staff groups: users
    ("g-registered", "🆕 New customer {who}", "🆕 مشتری جدید {who}"),
    ("g-registered-ref", "🆕 New customer {who}, invited by {referrer}", "🆕 مشتری جدید {who}، دعوت‌شده توسط {referrer}"),
    ("g-blocked", "⛔ {who} blocked by {by}: {reason}", "⛔ {who} توسط {by} مسدود شد: {reason}"),
    ("g-unblocked", "✅ {who} unblocked by {by}", "✅ {who} توسط {by} از مسدودی خارج شد"),
    ("g-role-granted", "🎖 {who} got role <b>{role}</b> from {by}", "🎖 نقش <b>{role}</b> توسط {by} به {who} داده شد"),
    ("g-role-revoked", "➖ {who} lost role <b>{role}</b> ({by})", "➖ نقش <b>{role}</b> از {who} گرفته شد ({by})"),
    ("g-broadcast-created", "📣 Broadcast by {by} to {segment}", "📣 پیام همگانی از {by} برای {segment}"),
    (
        "g-broadcast-done",
        "📣 Broadcast finished: {sent} sent, {blocked} blocked the bot, {failed} failed, {uncertain} uncertain of {recipients}",
        "📣 پیام همگانی تمام شد: {sent} ارسال، {blocked} ربات را مسدود کرده‌اند، {failed} ناموفق، {uncertain} نامعلوم از {recipients}",
    ),
    // ---- staff groups: money
    ("g-receipt", "🧾 Receipt from {who}: {amount}, waiting for approval", "🧾 رسید از {who}: {amount}، در انتظار تأیید"),
    ("g-approved", "💰 Payment of {amount} from {who} approved ({method}, {by})", "💰 پرداخت {amount} از {who} تأیید شد ({method}، {by})"),
    ("g-rejected", "❌ Payment of {who} rejected by {by}: {reason}", "❌ پرداخت {who} توسط {by} رد شد: {reason}"),
    ("g-gateway-failed", "⚠️ Gateway payment of {who} failed: {reason}", "⚠️ پرداخت درگاهی {who} ناموفق بود: {reason}"),
    ("g-adjusted-credit", "✏️ Wallet of {who} +{amount} by {by}: {note}", "✏️ کیف پول {who} ‎+{amount} توسط {by}: {note}"),
    ("g-adjusted-debit", "✏️ Wallet of {who} −{amount} by {by}: {note}", "✏️ کیف پول {who} ‎−{amount} توسط {by}: {note}"),
    ("g-sale", "🛒 {who} bought <b>{plan}</b> for {amount}", "🛒 {who} اشتراک <b>{plan}</b> را به مبلغ {amount} خرید"),
    ("g-renewal", "🔁 {who} renewed <b>{plan}</b> for {amount}", "🔁 {who} اشتراک <b>{plan}</b> را به مبلغ {amount} تمدید کرد"),
    ("g-traffic", "📶 {who} bought {gb} GB extra on <b>{plan}</b> for {amount}", "📶 {who} {gb} گیگابایت حجم اضافه برای <b>{plan}</b> به مبلغ {amount} خرید"),
    ("g-cancelled", "↩️ Subscription <b>{plan}</b> of {who} cancelled by {by}, refund {amount}: {reason}", "↩️ اشتراک <b>{plan}</b> {who} توسط {by} لغو شد، بازپرداخت {amount}: {reason}"),
    ("g-autorenew-ok", "🔁 Auto-renewal: <b>{plan}</b> of {who} renewed until {date}", "🔁 تمدید خودکار: <b>{plan}</b> {who} تا {date} تمدید شد"),
    ("g-autorenew-failed", "⚠️ Auto-renewal of <b>{plan}</b> for {who} failed: {reason}", "⚠️ تمدید خودکار <b>{plan}</b> برای {who} ناموفق بود: {reason}"),
    ("g-withdrawal-requested", "🏦 Seller {who} asked to withdraw {amount}", "🏦 فروشنده {who} درخواست برداشت {amount} داد"),
    ("g-withdrawal-approved", "🏦 Withdrawal of {amount} for {who} approved by {by}", "🏦 برداشت {amount} برای {who} توسط {by} تأیید شد"),
    ("g-withdrawal-rejected", "🏦 Withdrawal of {amount} for {who} rejected by {by}: {reason}", "🏦 برداشت {amount} برای {who} توسط {by} رد شد: {reason}"),
    ("g-withdrawal-paid", "🏦 Withdrawal of {amount} paid to {who} ({by})", "🏦 برداشت {amount} به {who} پرداخت شد ({by})"),
    // ---- staff groups: servers
    ("g-panel-registered", "🖥 Panel <b>{panel}</b> registered by {by}", "🖥 پنل <b>{panel}</b> توسط {by} ثبت شد"),
    ("g-panel-enabled", "🖥 Panel <b>{panel}</b> enabled by {by}", "🖥 پنل <b>{panel}</b> توسط {by} فعال شد"),
    ("g-panel-disabled", "🖥 Panel <b>{panel}</b> disabled by {by}: {reason}", "🖥 پنل <b>{panel}</b> توسط {by} غیرفعال شد: {reason}"),
    ("g-panel-retired", "🖥 Panel <b>{panel}</b> retired by {by}", "🖥 پنل <b>{panel}</b> توسط {by} بازنشسته شد"),
    ("g-panel-down", "🔴 Panel <b>{panel}</b> is down: {reason}", "🔴 پنل <b>{panel}</b> از دسترس خارج شد: {reason}"),
    ("g-panel-up", "🟢 Panel <b>{panel}</b> is back", "🟢 پنل <b>{panel}</b> دوباره در دسترس است"),
    ("g-provisioning-failed", "⚠️ Could not create the account of {who} on a panel: {reason}", "⚠️ ساخت حساب {who} روی پنل ناموفق بود: {reason}"),
    ("g-client-missing", "⚠️ The account of {who} is missing on panel <b>{panel}</b>", "⚠️ حساب {who} روی پنل <b>{panel}</b> پیدا نشد"),
    // ---- staff groups: support
    ("g-chat-opened", "💬 {who} is waiting in the support queue (chat #{number})", "💬 {who} در صف پشتیبانی منتظر است (گفتگوی #{number})"),
    ("g-chat-assigned", "👤 Chat of {who} assigned to {agent} after {waited}", "👤 گفتگوی {who} پس از {waited} به {agent} سپرده شد"),
    ("g-chat-closed", "✔️ Chat of {who} closed by {by} after {duration}", "✔️ گفتگوی {who} پس از {duration} توسط {by} بسته شد"),
    ("g-chat-rated", "⭐ {who} rated {agent}: {stars}", "⭐ {who} به {agent} امتیاز داد: {stars}"),
    ("g-agent-online", "🟢 Agent {agent} is online", "🟢 پشتیبان {agent} آنلاین شد"),
    ("g-agent-offline", "⚪ Agent {agent} is offline", "⚪ پشتیبان {agent} آفلاین شد"),
    // ---- staff groups: backups
    ("g-backup-taken", "💾 Backup <code>{name}</code>: {size}, SHA-256 <code>{sha}</code>", "💾 پشتیبان <code>{name}</code>: {size}، SHA-256 <code>{sha}</code>"),
    ("g-backup-failed", "🔴 Backup <code>{name}</code> failed: {reason}", "🔴 پشتیبان‌گیری <code>{name}</code> ناموفق بود: {reason}"),
    ("g-backup-uploaded", "📤 Backup <code>{name}</code> sent in {parts} part(s)", "📤 پشتیبان <code>{name}</code> در {parts} بخش ارسال شد"),
    ("g-backup-upload-failed", "⚠️ Backup <code>{name}</code> could not be sent: {reason}", "⚠️ ارسال پشتیبان <code>{name}</code> ناموفق بود: {reason}"),
    ("g-backup-restored", "♻️ Backup <code>{name}</code> restored into <code>{database}</code>", "♻️ پشتیبان <code>{name}</code> در <code>{database}</code> بازیابی شد"),
    // ---- staff groups: feature toggles and license
    ("g-feature-on", "🔛 <b>{feature}</b> switched on by {by}", "🔛 <b>{feature}</b> توسط {by} روشن شد"),
    ("g-feature-off", "📴 <b>{feature}</b> switched off by {by}", "📴 <b>{feature}</b> توسط {by} خاموش شد"),
    ("g-license", "📜 License installed by {by}, valid until {date}", "📜 مجوز توسط {by} نصب شد، معتبر تا {date}"),
    ("g-system", "system", "سیستم"),
    // ---- reminders to customers
    (
        "r-points-expiring",
        "⏳ {points} of your loyalty points expire on {date}. Use them in /points before then.",
        "⏳ {points} امتیاز وفاداری شما در {date} منقضی می‌شود. پیش از آن در /points استفاده کنید.",
    ),
    // ---- live chat (the bot's support screens)
    ("c-disabled", "Live chat is not available right now. Please try again later.", "گفتگوی زنده در حال حاضر در دسترس نیست. لطفاً بعداً دوباره تلاش کنید."),
    ("c-opened", "💬 You are in the support queue. Write your question; an agent will answer here.", "💬 شما در صف پشتیبانی هستید. سؤال خود را بنویسید؛ پشتیبان همین‌جا پاسخ می‌دهد."),
    ("c-already-open", "💬 Your chat with support is open. Write here; send /endchat to close it.", "💬 گفتگوی شما با پشتیبانی باز است. همین‌جا بنویسید؛ برای بستن /endchat را بفرستید."),
    ("c-assigned", "👤 {agent} from support joined the chat.", "👤 {agent} از پشتیبانی به گفتگو پیوست."),
    ("c-agent-says", "👤 <b>Support</b>:\n{text}", "👤 <b>پشتیبانی</b>:\n{text}"),
    ("c-closed", "✔️ The chat is closed. How did we do?", "✔️ گفتگو بسته شد. از پاسخ ما چقدر راضی بودید؟"),
    ("c-thanks", "🙏 Thank you for rating us {stars}.", "🙏 از امتیاز {stars} شما سپاسگزاریم."),
    ("c-received", "✉️ Sent to support.", "✉️ برای پشتیبانی ارسال شد."),
    ("c-no-chat", "You have no open chat with support. Send /support to open one.", "گفتگوی بازی با پشتیبانی ندارید. برای شروع /support را بفرستید."),
    (
        "q-list",
        "⚡ <b>Quick replies</b>. Send <code>title = text</code> to save one, <code>-title</code> to remove one.",
        "⚡ <b>پاسخ‌های آماده</b>. برای ذخیره <code>عنوان = متن</code> و برای حذف <code>-عنوان</code> را بفرستید.",
    ),
    ("a-new-chat", "💬 New chat from {who} (chat #{number}). {count} message(s) so far:", "💬 گفتگوی جدید از {who} (گفتگوی #{number}). {count} پیام تا کنون:"),
    ("a-customer-says", "💬 {who}:\n{text}", "💬 {who}:\n{text}"),
    ("a-replying", "✍️ Your next messages go to {who}. Send /endchat to close the chat.", "✍️ پیام‌های بعدی شما برای {who} ارسال می‌شود. برای بستن گفتگو /endchat را بفرستید."),
    ("a-closed", "✔️ Chat with {who} closed.", "✔️ گفتگو با {who} بسته شد."),
    ("a-rated", "⭐ {who} rated your chat {stars}.", "⭐ {who} به گفتگوی شما امتیاز {stars} داد."),
    ("a-online", "🟢 You are online: new chats come to you.", "🟢 شما آنلاین هستید: گفتگوهای جدید به شما سپرده می‌شود."),
    ("a-offline", "⚪ You are offline: no new chats come to you.", "⚪ شما آفلاین هستید: گفتگوی جدیدی به شما سپرده نمی‌شود."),
    ("a-no-chat", "You are not answering any chat. Press “Reply” under a customer's message first.", "در حال پاسخ به گفتگویی نیستید. ابتدا زیر پیام مشتری «پاسخ» را بزنید."),
    ("a-stats", "📊 <b>Support</b> (agent · chats · replies · average / max response · rating)", "📊 <b>پشتیبانی</b> (پشتیبان · گفتگو · پاسخ · میانگین / بیشینه زمان پاسخ · امتیاز)"),
    ("btn-reply", "✍️ Reply", "✍️ پاسخ"),
    ("btn-quick", "⚡ Quick reply", "⚡ پاسخ آماده"),
    ("btn-close-chat", "✔️ Close chat", "✔️ بستن گفتگو"),
    ("btn-go-online", "🟢 Go online", "🟢 آنلاین شدن"),
    ("btn-go-offline", "⚪ Go offline", "⚪ آفلاین شدن"),
    // ---- broadcasts (the bot's /broadcast screens)
    ("b-choose-segment", "📣 Who should receive the message?", "📣 پیام برای چه کسانی ارسال شود؟"),
    ("b-write", "✍️ Send the message for {segment} (plain text, up to 4096 characters).", "✍️ متن پیام برای {segment} را بفرستید (متن ساده، حداکثر ۴۰۹۶ نویسه)."),
    ("b-confirm", "📣 Send this to {segment}?\n\n{text}", "📣 این پیام برای {segment} ارسال شود؟\n\n{text}"),
    ("b-progress", "📣 Broadcast to {segment}: {done} of {recipients} ({sent} sent, {blocked} blocked the bot, {failed} failed).", "📣 پیام همگانی برای {segment}: {done} از {recipients} ({sent} ارسال، {blocked} مسدود، {failed} ناموفق)."),
    ("b-queued", "📣 Broadcast queued for {segment}; this message shows its progress.", "📣 پیام همگانی برای {segment} در صف قرار گرفت؛ پیشرفت آن در همین پیام نمایش داده می‌شود."),
    (
        "b-done",
        "📣 Broadcast finished: {sent} sent, {blocked} blocked the bot, {failed} failed, {uncertain} uncertain, {skipped} skipped, of {recipients}.",
        "📣 پیام همگانی تمام شد: {sent} ارسال، {blocked} مسدود، {failed} ناموفق، {uncertain} نامعلوم، {skipped} لغوشده، از {recipients}.",
    ),
    ("b-cancelled", "📣 Broadcast cancelled.", "📣 پیام همگانی لغو شد."),
    ("b-disabled", "Broadcasts are switched off (an operator switches them on with `mrjbot features enable broadcasts`).", "ارسال همگانی خاموش است (مدیر سیستم با `mrjbot features enable broadcasts` روشن می‌کند)."),
    ("seg-all", "all customers", "همه مشتریان"),
    ("seg-active", "customers with an active subscription", "مشتریان دارای اشتراک فعال"),
    ("seg-inactive", "customers without an active subscription", "مشتریان بدون اشتراک فعال"),
    ("seg-new", "customers who joined in the last {days} days", "مشتریانی که در {days} روز گذشته عضو شده‌اند"),
    ("seg-location", "customers in {location}", "مشتریان {location}"),
    ("seg-plan", "customers of plan {plan}", "مشتریان طرح {plan}"),
    ("seg-role", "holders of role {role}", "دارندگان نقش {role}"),
    ("btn-send", "📣 Send", "📣 ارسال"),
    ("btn-cancel", "✖️ Cancel", "✖️ انصراف"),
];

/// The text for `key` in `lang` with `args` put in. A missing key shows as
/// `⟦key⟧` (the catalog test makes that a bug caught before release).
pub fn t(lang: Language, key: &str, args: &[(&str, String)]) -> String {
    let Some((_, en, fa)) = CATALOG.iter().find(|(k, _, _)| *k == key) else {
        tracing::error!(key, "missing text");
        return format!("⟦{key}⟧");
    };
    let template = match lang {
        Language::En => *en,
        Language::Fa => *fa,
    };
    // One pass, so a value that contains `{x}` is never filled in again.
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match args.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => out.push_str(value),
                    None => {
                        tracing::error!(key, name, "missing argument");
                        out.push_str(&rest[start..start + end + 2]);
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every key (for tests that walk the catalog).
pub fn keys() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().map(|(k, _, _)| *k)
}

fn placeholders(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else { break };
        out.push(rest[start + 1..start + end].to_string());
        rest = &rest[start + end + 1..];
    }
    out.sort();
    out.dedup();
    out
}

/// The placeholders of `key` (the same in both languages).
pub fn params(key: &str) -> Vec<String> {
    CATALOG
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, en, _)| placeholders(en))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_every_key_with_the_same_placeholders() {
        let mut seen = std::collections::BTreeSet::new();
        for (key, en, fa) in CATALOG {
            assert!(seen.insert(*key), "duplicate key {key}");
            assert!(!en.trim().is_empty() && !fa.trim().is_empty(), "{key} is empty");
            assert_eq!(placeholders(en), placeholders(fa), "{key}: placeholders differ");
            let names = placeholders(en);
            let args: Vec<(&str, String)> = names.iter().map(|p| (p.as_str(), "X".to_string())).collect();
            for lang in [Language::En, Language::Fa] {
                let text = t(lang, key, &args);
                assert!(!text.contains('{'), "{key}: unfilled placeholder in {text}");
                // Every text must be valid Telegram HTML: tags balanced.
                assert_eq!(text.matches("<b>").count(), text.matches("</b>").count(), "{key}");
                assert_eq!(text.matches("<code>").count(), text.matches("</code>").count(), "{key}");
            }
        }
    }

    #[test]
    fn a_missing_key_is_visible() {
        assert_eq!(t(Language::En, "nope", &[]), "⟦nope⟧");
        assert_eq!(
            t(Language::En, "g-agent-online", &[("agent", "@ali".into())]),
            "🟢 Agent @ali is online"
        );
        // A value is never read as a template.
        let text = t(
            Language::En,
            "b-confirm",
            &[("segment", "all".into()), ("text", "{segment}".into())],
        );
        assert!(text.ends_with("{segment}"), "{text}");
    }
}
