import type { ReactElement } from "react";
import DashboardIcon from "@mui/icons-material/Dashboard";
import PeopleIcon from "@mui/icons-material/People";
import SubscriptionsIcon from "@mui/icons-material/Subscriptions";
import ReceiptLongIcon from "@mui/icons-material/ReceiptLong";
import CreditCardIcon from "@mui/icons-material/CreditCard";
import InventoryIcon from "@mui/icons-material/Inventory2";
import BarChartIcon from "@mui/icons-material/BarChart";
import BadgeIcon from "@mui/icons-material/Badge";
import ShieldIcon from "@mui/icons-material/Shield";
import DnsIcon from "@mui/icons-material/Dns";
import PaidIcon from "@mui/icons-material/Paid";
import SettingsIcon from "@mui/icons-material/Settings";
import StarsIcon from "@mui/icons-material/Stars";
import KeyIcon from "@mui/icons-material/Key";
import ChatIcon from "@mui/icons-material/Chat";
import StorefrontIcon from "@mui/icons-material/Storefront";
import GroupIcon from "@mui/icons-material/Group";
import TrendingUpIcon from "@mui/icons-material/TrendingUp";
import AccountBalanceIcon from "@mui/icons-material/AccountBalance";
import PersonIcon from "@mui/icons-material/Person";
import VpnKeyIcon from "@mui/icons-material/VpnKey";
import WalletIcon from "@mui/icons-material/AccountBalanceWallet";
import NotificationsIcon from "@mui/icons-material/Notifications";
import LockIcon from "@mui/icons-material/Lock";
import type { Key } from "./i18n";

export interface NavItem {
  path: string;
  label: Key;
  icon: ReactElement;
  section: "admin" | "seller" | "me";
  /** Any of these permissions (staff sessions) shows the item. */
  permissions?: string[];
  /** Built yet? Pages of capabilities that do not exist say so. */
  available: boolean;
}

export const NAV: NavItem[] = [
  { path: "/admin", label: "overview", icon: <DashboardIcon />, section: "admin", permissions: ["view_reports"], available: true },
  { path: "/admin/payments", label: "payments", icon: <ReceiptLongIcon />, section: "admin", permissions: ["approve_receipts", "view_reports"], available: true },
  { path: "/admin/users", label: "users", icon: <PeopleIcon />, section: "admin", permissions: ["manage_users"], available: true },
  { path: "/admin/subscriptions", label: "subscriptions", icon: <SubscriptionsIcon />, section: "admin", permissions: ["manage_subscriptions"], available: true },
  { path: "/admin/plans", label: "plans", icon: <InventoryIcon />, section: "admin", permissions: ["manage_plans"], available: true },
  { path: "/admin/cards", label: "cards", icon: <CreditCardIcon />, section: "admin", permissions: ["manage_cards"], available: true },
  { path: "/admin/reports", label: "reports", icon: <BarChartIcon />, section: "admin", permissions: ["view_reports"], available: true },
  { path: "/admin/panels", label: "panels", icon: <DnsIcon />, section: "admin", permissions: ["manage_locations"], available: true },
  { path: "/admin/staff", label: "staffAccounts", icon: <BadgeIcon />, section: "admin", permissions: ["manage_users"], available: true },
  { path: "/admin/roles", label: "roles", icon: <ShieldIcon />, section: "admin", permissions: ["manage_roles", "manage_users"], available: true },
  { path: "/admin/commissions", label: "commissions", icon: <PaidIcon />, section: "admin", permissions: ["adjust_wallets", "manage_plans"], available: true },
  { path: "/admin/points", label: "points", icon: <StarsIcon />, section: "admin", permissions: ["manage_points"], available: true },
  { path: "/admin/settings", label: "settings", icon: <SettingsIcon />, section: "admin", permissions: ["manage_settings"], available: true },
  { path: "/admin/license", label: "license", icon: <KeyIcon />, section: "admin", permissions: ["manage_settings"], available: true },
  { path: "/admin/chat", label: "liveChat", icon: <ChatIcon />, section: "admin", permissions: ["answer_support"], available: true },
  { path: "/seller/sales", label: "sales", icon: <StorefrontIcon />, section: "seller", permissions: ["sell"], available: true },
  { path: "/seller/customers", label: "myCustomers", icon: <GroupIcon />, section: "seller", permissions: ["sell"], available: true },
  { path: "/seller/performance", label: "performance", icon: <TrendingUpIcon />, section: "seller", permissions: ["sell"], available: true },
  { path: "/seller/commissions", label: "commissions", icon: <PaidIcon />, section: "seller", permissions: ["sell"], available: true },
  { path: "/seller/withdrawals", label: "withdrawals", icon: <AccountBalanceIcon />, section: "seller", permissions: ["sell"], available: true },
  { path: "/me", label: "profile", icon: <PersonIcon />, section: "me", available: true },
  { path: "/me/subscriptions", label: "mySubscriptions", icon: <VpnKeyIcon />, section: "me", available: true },
  { path: "/me/wallet", label: "wallet", icon: <WalletIcon />, section: "me", available: true },
  { path: "/me/notifications", label: "notifications", icon: <NotificationsIcon />, section: "me", available: true },
  { path: "/me/points", label: "points", icon: <StarsIcon />, section: "me", available: true },
  { path: "/me/chat", label: "liveChat", icon: <ChatIcon />, section: "me", available: true },
  { path: "/me/security", label: "security", icon: <LockIcon />, section: "me", available: true },
];
