//! Roles and permissions. Every command that needs a permission carries an
//! [`Actor`] and the aggregate checks it, so no edge (bot, API, CLI) can skip it.
use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::values::CustomerId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    ManageRoles,
    ManageUsers,
    AdjustWallets,
    ApproveReceipts,
    ManagePlans,
    ManageCards,
    ManageSubscriptions,
    ViewReports,
    Sell,
    VipPricing,
    AnswerSupport,
    ManageContent,
    ManageLocations,
    ManagePoints,
    ManageSettings,
}

impl Permission {
    pub const ALL: [Permission; 15] = [
        Permission::ManageRoles,
        Permission::ManageUsers,
        Permission::AdjustWallets,
        Permission::ApproveReceipts,
        Permission::ManagePlans,
        Permission::ManageCards,
        Permission::ManageSubscriptions,
        Permission::ViewReports,
        Permission::Sell,
        Permission::VipPricing,
        Permission::AnswerSupport,
        Permission::ManageContent,
        Permission::ManageLocations,
        Permission::ManagePoints,
        Permission::ManageSettings,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Permission::ManageRoles => "manage_roles",
            Permission::ManageUsers => "manage_users",
            Permission::AdjustWallets => "adjust_wallets",
            Permission::ApproveReceipts => "approve_receipts",
            Permission::ManagePlans => "manage_plans",
            Permission::ManageCards => "manage_cards",
            Permission::ManageSubscriptions => "manage_subscriptions",
            Permission::ViewReports => "view_reports",
            Permission::Sell => "sell",
            Permission::VipPricing => "vip_pricing",
            Permission::AnswerSupport => "answer_support",
            Permission::ManageContent => "manage_content",
            Permission::ManageLocations => "manage_locations",
            Permission::ManagePoints => "manage_points",
            Permission::ManageSettings => "manage_settings",
        }
    }

    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == s.trim())
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A built-in role, or a custom role defined by an admin (see [`crate::role`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RoleName {
    Admin,
    Seller,
    Vip,
    ReceiptAdmin,
    SupportAgent,
    ContentManager,
    LocationManager,
    PointsAdmin,
    Custom(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a role name is 1 to 32 lowercase letters, digits, `_` or `-`")]
pub struct InvalidRoleName;

impl RoleName {
    pub const BUILT_IN: [RoleName; 8] = [
        RoleName::Admin,
        RoleName::Seller,
        RoleName::Vip,
        RoleName::ReceiptAdmin,
        RoleName::SupportAgent,
        RoleName::ContentManager,
        RoleName::LocationManager,
        RoleName::PointsAdmin,
    ];

    pub fn parse(s: &str) -> Result<RoleName, InvalidRoleName> {
        let s = s.trim().to_ascii_lowercase();
        let built_in = match s.as_str() {
            "admin" => Some(RoleName::Admin),
            "seller" => Some(RoleName::Seller),
            "vip" => Some(RoleName::Vip),
            "receipt_admin" => Some(RoleName::ReceiptAdmin),
            "support_agent" => Some(RoleName::SupportAgent),
            "content_manager" => Some(RoleName::ContentManager),
            "location_manager" => Some(RoleName::LocationManager),
            "points_admin" => Some(RoleName::PointsAdmin),
            _ => None,
        };
        if let Some(r) = built_in {
            return Ok(r);
        }
        let valid = !s.is_empty()
            && s.len() <= 32
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if valid {
            Ok(RoleName::Custom(s))
        } else {
            Err(InvalidRoleName)
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            RoleName::Admin => "admin",
            RoleName::Seller => "seller",
            RoleName::Vip => "vip",
            RoleName::ReceiptAdmin => "receipt_admin",
            RoleName::SupportAgent => "support_agent",
            RoleName::ContentManager => "content_manager",
            RoleName::LocationManager => "location_manager",
            RoleName::PointsAdmin => "points_admin",
            RoleName::Custom(s) => s,
        }
    }

    pub fn is_custom(&self) -> bool {
        matches!(self, RoleName::Custom(_))
    }

    /// Permissions of a built-in role; `None` for a custom role, whose permissions are events.
    pub fn built_in_permissions(&self) -> Option<BTreeSet<Permission>> {
        use Permission::*;
        let set: &[Permission] = match self {
            RoleName::Admin => &Permission::ALL,
            RoleName::Seller => &[Sell],
            RoleName::Vip => &[VipPricing],
            RoleName::ReceiptAdmin => &[ApproveReceipts],
            RoleName::SupportAgent => &[AnswerSupport],
            RoleName::ContentManager => &[ManageContent],
            RoleName::LocationManager => &[ManageLocations],
            RoleName::PointsAdmin => &[ManagePoints],
            RoleName::Custom(_) => return None,
        };
        Some(set.iter().copied().collect())
    }
}

impl TryFrom<String> for RoleName {
    type Error = InvalidRoleName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RoleName::parse(&s)
    }
}
impl From<RoleName> for String {
    fn from(r: RoleName) -> String {
        r.as_str().to_string()
    }
}
impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who issues a command. `System` is trusted code: the operator's CLI and the
/// process managers that finish work a user already authorised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    System,
    User { id: CustomerId, permissions: BTreeSet<Permission> },
}

/// Who did it, as recorded in events (permissions are not history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorRef {
    System,
    User(CustomerId),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("permission `{0}` is required")]
pub struct PermissionDenied(pub Permission);

impl Actor {
    pub fn user(id: CustomerId, permissions: impl IntoIterator<Item = Permission>) -> Actor {
        Actor::User {
            id,
            permissions: permissions.into_iter().collect(),
        }
    }

    pub fn require(&self, p: Permission) -> Result<(), PermissionDenied> {
        match self {
            Actor::System => Ok(()),
            Actor::User { permissions, .. } if permissions.contains(&p) => Ok(()),
            Actor::User { .. } => Err(PermissionDenied(p)),
        }
    }

    pub fn has(&self, p: Permission) -> bool {
        self.require(p).is_ok()
    }

    pub fn reference(&self) -> ActorRef {
        match self {
            Actor::System => ActorRef::System,
            Actor::User { id, .. } => ActorRef::User(*id),
        }
    }

    pub fn customer_id(&self) -> Option<CustomerId> {
        match self {
            Actor::System => None,
            Actor::User { id, .. } => Some(*id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_has_every_permission() {
        assert_eq!(RoleName::Admin.built_in_permissions().unwrap().len(), Permission::ALL.len());
    }

    #[test]
    fn role_names_round_trip() {
        for r in RoleName::BUILT_IN {
            assert_eq!(RoleName::parse(r.as_str()).unwrap(), r);
        }
        assert_eq!(RoleName::parse("Night-Shift").unwrap(), RoleName::Custom("night-shift".into()));
        assert!(RoleName::parse("no spaces").is_err());
    }

    #[test]
    fn a_user_without_the_permission_is_refused() {
        let seller = Actor::user(CustomerId(5), [Permission::Sell]);
        assert_eq!(
            seller.require(Permission::ApproveReceipts),
            Err(PermissionDenied(Permission::ApproveReceipts))
        );
        assert!(seller.require(Permission::Sell).is_ok());
        assert!(Actor::System.require(Permission::ManageRoles).is_ok());
    }

    #[test]
    fn permission_names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.name()), Some(p));
        }
    }
}
