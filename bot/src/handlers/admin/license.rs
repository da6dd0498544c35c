//! `/license` (`manage_settings`, the permission that installs a license):
//! the license as the shop checks it — verified again on every read by
//! `commands::license_status` — and the panels it allows and uses.
//! Read-only: installing a key stays in the CLI (`mrjbot license install`).
use chrono::Utc;
use domain::features::Feature;
use domain::license::LicenseState;
use domain::Permission;

use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;
use crate::i18n::esc;

/// A feature's name in the person's language.
pub(crate) fn feature(ctx: &Ctx<'_>, f: Feature) -> String {
    match f {
        Feature::Backups => ctx.t("license-feature-backups"),
        Feature::Chat => ctx.t("license-feature-chat"),
        Feature::Ai => ctx.t("license-feature-ai"),
        Feature::Points => ctx.t("license-feature-points"),
        Feature::Broadcasts => ctx.t("license-feature-broadcasts"),
    }
}

pub async fn show(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::ManageSettings)?;
    let now = Utc::now();
    let status = ctx.app.commands.license_status(now).await?;
    let used = ctx.app.commands.registered_panels().await?;
    let e = &status.entitlements;
    let state = match &e.state {
        LicenseState::Unlicensed => ctx.t("license-unlicensed"),
        LicenseState::Valid { licensee, expires_at } => {
            ctx.ta("license-valid", &[("licensee", esc(licensee)), ("expires", ctx.date(*expires_at))])
        }
        LicenseState::Grace {
            licensee,
            expired_at,
            grace_ends_at,
        } => ctx.ta(
            "license-grace",
            &[
                ("licensee", esc(licensee)),
                ("expired", ctx.date(*expired_at)),
                ("until", ctx.date(*grace_ends_at)),
            ],
        ),
        LicenseState::Lapsed {
            licensee,
            expired_at,
            grace_ended_at,
        } => ctx.ta(
            "license-lapsed",
            &[
                ("licensee", esc(licensee)),
                ("expired", ctx.date(*expired_at)),
                ("until", ctx.date(*grace_ended_at)),
            ],
        ),
    };
    let features = if e.features.is_empty() {
        ctx.t("none")
    } else {
        e.features.iter().map(|f| feature(ctx, *f)).collect::<Vec<_>>().join(", ")
    };
    let mut text = ctx.ta(
        "license-screen",
        &[
            ("state", state),
            ("features", features),
            ("panels", ctx.num(i64::from(used))),
            ("max", ctx.num(i64::from(e.max_panels))),
        ],
    );
    if let Some(l) = &status.installed {
        text.push('\n');
        text.push_str(&ctx.ta(
            "license-details",
            &[
                ("id", l.claims.license_id.to_string()),
                ("issued", ctx.date(l.claims.issued_at)),
                ("expires", ctx.date(l.claims.expires_at)),
                ("grace", ctx.num(i64::from(l.claims.grace_days))),
                ("installed", ctx.date(l.installed_at)),
            ],
        ));
    }
    // The domain's own sentences (English), as `mrjbot license show` prints them.
    for note in status.problem.iter().chain(status.warning.iter()) {
        text.push('\n');
        text.push_str(&ctx.ta("license-note", &[("note", esc(note))]));
    }
    text.push('\n');
    text.push_str(&ctx.t("license-install-hint"));
    ctx.show(Screen::new(text).button(ctx.back(Action::AdminMenu))).await?;
    Ok(())
}
