//! The feature toggles part of `/settings` (`manage_settings`, the
//! permission `commands::set_feature` checks): each feature with its switch
//! and whether the license covers it, and a button that sets it to an
//! explicit state — so a repeated or stale press asks for the state it
//! already is in, and the domain writes nothing.
use chrono::Utc;
use commands::CommandError;
use domain::features::{Feature, FeatureError};
use domain::Permission;
use teloxide::types::InlineKeyboardButton;

use super::license::feature as feature_name;
use crate::app::{BotError, Ctx};
use crate::callback::Action;

/// Telegram shows at most 200 characters in a button's answer.
const ANSWER_MAX: usize = 190;

/// The section's text and one button row per feature.
pub async fn section(ctx: &Ctx<'_>) -> Result<(String, Vec<Vec<InlineKeyboardButton>>), BotError> {
    ctx.require(Permission::ManageSettings)?;
    let toggles = ctx.app.commands.feature_toggles().await?;
    let license = ctx.app.commands.entitlements(Utc::now()).await?;
    let mut text = ctx.t("features-title");
    let mut rows = Vec::new();
    for f in Feature::ALL {
        let on = toggles.is_enabled(f);
        let covered = if !f.needs_license() {
            ctx.t("feature-license-free")
        } else if license.allows(f).is_ok() {
            ctx.t("feature-licensed")
        } else {
            ctx.t("feature-not-licensed")
        };
        text.push('\n');
        text.push_str(&ctx.ta(
            "feature-line",
            &[
                ("feature", feature_name(ctx, f)),
                ("state", if on { ctx.t("feature-on") } else { ctx.t("feature-off") }),
                ("license", covered),
            ],
        ));
        let (label, enabled) = if on { ("btn-feature-off", false) } else { ("btn-feature-on", true) };
        rows.push(vec![ctx.btn(
            ctx.ta(label, &[("feature", feature_name(ctx, f))]),
            Action::FeatureSet { feature: f, enabled },
        )]);
    }
    Ok((text, rows))
}

fn shorten(text: String) -> String {
    if text.chars().count() <= ANSWER_MAX {
        return text;
    }
    let mut short: String = text.chars().take(ANSWER_MAX - 1).collect();
    short.push('…');
    short
}

/// A feature button: sets the switch to the state the button names.
pub async fn set(ctx: &Ctx<'_>, feature: Feature, enabled: bool) -> Result<(), BotError> {
    ctx.require(Permission::ManageSettings)?;
    let name = feature_name(ctx, feature);
    match ctx.app.commands.set_feature(&ctx.actor, feature, enabled, Utc::now()).await {
        Ok(change) => {
            let key = match (change.changed, change.enabled) {
                (true, true) => "feature-switched-on",
                (true, false) => "feature-switched-off",
                (false, true) => "feature-already-on",
                (false, false) => "feature-already-off",
            };
            ctx.ack(Some(ctx.ta(key, &[("feature", name)])), false).await?;
            super::catalog::plans(ctx).await
        }
        // The domain's own sentence (English), as `mrjbot features` prints it.
        Err(CommandError::Feature(FeatureError::NotLicensed(denied)) | CommandError::NotLicensed(denied)) => {
            let text = ctx.ta("feature-refused", &[("feature", name), ("reason", denied.reason.to_string())]);
            ctx.ack(Some(shorten(text)), true).await
        }
        Err(e) => Err(e.into()),
    }
}
