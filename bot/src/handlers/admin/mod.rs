//! Staff screens. The permission is checked on every command and every
//! button (from the actor's roles as the events say), and the domain checks
//! it again on every command it runs.
pub mod catalog;
pub mod features;
pub mod license;
pub mod queue;
pub mod reports;
pub mod subs;
pub mod users;

use domain::Permission;

use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;

const STAFF: [Permission; 10] = [
    Permission::ApproveReceipts,
    Permission::ManageUsers,
    Permission::ManageRoles,
    Permission::AdjustWallets,
    Permission::ManageSubscriptions,
    Permission::ManagePlans,
    Permission::ManageCards,
    Permission::ViewReports,
    Permission::ManageContent,
    Permission::ManageSettings,
];

pub fn is_staff(ctx: &Ctx<'_>) -> bool {
    STAFF.iter().any(|p| ctx.has(*p))
}

pub async fn menu(ctx: &Ctx<'_>) -> Result<(), BotError> {
    if !is_staff(ctx) {
        return Err(BotError::Denied(Permission::ApproveReceipts));
    }
    let mut screen = Screen::new(ctx.t("admin-menu"));
    let mut buttons = Vec::new();
    if ctx.has(Permission::ApproveReceipts) {
        let count = projections::views::receipt_queue_len(&ctx.app.pool).await?;
        buttons.push(ctx.btn(ctx.ta("btn-admin-queue", &[("count", ctx.num(count))]), Action::Queue));
    }
    if ctx.has(Permission::AdjustWallets) {
        let count = projections::commerce_views::open_withdrawals(&ctx.app.pool).await?.len();
        buttons.push(ctx.btn(
            ctx.ta("btn-admin-withdrawals", &[("count", ctx.num(count as i64))]),
            Action::Withdrawals,
        ));
    }
    if ctx.has(Permission::ManageUsers) {
        buttons.push(ctx.btn(ctx.t("btn-admin-users"), Action::Users));
    }
    if ctx.has(Permission::ManageSubscriptions) {
        buttons.push(ctx.btn(ctx.t("btn-admin-subs"), Action::AdminSubs));
    }
    if ctx.has(Permission::ManagePlans) || ctx.has(Permission::ManageSettings) {
        buttons.push(ctx.btn(ctx.t("btn-admin-settings"), Action::Settings));
    }
    if ctx.has(Permission::ManageCards) {
        buttons.push(ctx.btn(ctx.t("btn-admin-cards"), Action::Cards));
    }
    if ctx.has(Permission::ViewReports) {
        buttons.push(ctx.btn(ctx.t("btn-admin-stats"), Action::Stats));
        buttons.push(ctx.btn(ctx.t("btn-admin-reports"), Action::Reports(7)));
        buttons.push(ctx.btn(ctx.t("btn-admin-servers"), Action::Servers));
    }
    if ctx.has(Permission::ManageContent) {
        buttons.push(ctx.btn(ctx.t("btn-admin-broadcast"), Action::Broadcast));
    }
    if ctx.has(Permission::ManageSettings) {
        buttons.push(ctx.btn(ctx.t("btn-admin-license"), Action::License));
    }
    for pair in buttons.chunks(2) {
        screen = screen.row(pair.to_vec());
    }
    ctx.show(screen.button(ctx.btn(ctx.t("btn-menu"), Action::Menu))).await?;
    Ok(())
}
