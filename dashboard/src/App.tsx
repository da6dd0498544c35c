import { useCallback, useState, type ReactNode } from "react";
import { Link as RouterLink, Navigate, Route, Routes, useLocation } from "react-router-dom";
import {
  AppBar,
  Box,
  Button,
  Divider,
  Drawer,
  IconButton,
  List,
  ListItemButton,
  ListItemIcon,
  ListItemText,
  ListSubheader,
  Snackbar,
  Toolbar,
  Tooltip,
  Typography,
  useMediaQuery,
  useTheme,
} from "@mui/material";
import MenuIcon from "@mui/icons-material/Menu";
import DarkModeIcon from "@mui/icons-material/DarkMode";
import LightModeIcon from "@mui/icons-material/LightMode";
import TranslateIcon from "@mui/icons-material/Translate";
import LogoutIcon from "@mui/icons-material/Logout";
import { useAuth } from "./auth";
import { useLang } from "./i18n";
import { useLive, type LiveEvent } from "./live";
import { NAV, type NavItem } from "./nav";
import { useMode } from "./theme";
import { Loading, NotAvailable } from "./components/common";
import { Login } from "./pages/Login";
import { Overview } from "./pages/admin/Overview";
import { Payments } from "./pages/admin/Payments";
import { Users } from "./pages/admin/Users";
import { AdminSubscriptions } from "./pages/admin/Subscriptions";
import { Plans } from "./pages/admin/Plans";
import { Cards } from "./pages/admin/Cards";
import { Reports } from "./pages/admin/Reports";
import { Panels } from "./pages/admin/Panels";
import { Staff } from "./pages/admin/Staff";
import { RolesPage } from "./pages/admin/Roles";
import { SellerSales, SellerCustomers, SellerPerformance, SellerCommissions, SellerWithdrawals } from "./pages/seller/Seller";
import { AdminCommissions, AdminPoints } from "./pages/admin/Commerce";
import { License, Settings } from "./pages/admin/Settings";
import { LiveChat } from "./pages/admin/LiveChat";
import { Points } from "./pages/customer/Points";
import { Profile } from "./pages/customer/Profile";
import { MySubscriptions } from "./pages/customer/Subscriptions";
import { Wallet } from "./pages/customer/Wallet";
import { Security } from "./pages/customer/Security";
import { MyChat } from "./pages/customer/Chat";
import { Notifications } from "./pages/customer/Notifications";

const DRAWER = 260;

const PAGES: Record<string, ReactNode> = {
  "/admin": <Overview />,
  "/admin/payments": <Payments />,
  "/admin/users": <Users />,
  "/admin/subscriptions": <AdminSubscriptions />,
  "/admin/plans": <Plans />,
  "/admin/cards": <Cards />,
  "/admin/reports": <Reports />,
  "/admin/panels": <Panels />,
  "/admin/staff": <Staff />,
  "/admin/roles": <RolesPage />,
  "/admin/commissions": <AdminCommissions />,
  "/admin/points": <AdminPoints />,
  "/admin/settings": <Settings />,
  "/admin/license": <License />,
  "/admin/chat": <LiveChat />,
  "/seller/sales": <SellerSales />,
  "/seller/customers": <SellerCustomers />,
  "/seller/performance": <SellerPerformance />,
  "/seller/commissions": <SellerCommissions />,
  "/seller/withdrawals": <SellerWithdrawals />,
  "/me": <Profile />,
  "/me/subscriptions": <MySubscriptions />,
  "/me/wallet": <Wallet />,
  "/me/points": <Points />,
  "/me/chat": <MyChat />,
  "/me/notifications": <Notifications />,
  "/me/security": <Security />,
};

export function App() {
  const { me, ready } = useAuth();
  if (!ready) return <Loading />;
  if (!me) {
    return (
      <Routes>
        <Route path="*" element={<Login />} />
      </Routes>
    );
  }
  return <Shell />;
}

function visible(item: NavItem, can: (p: string) => boolean): boolean {
  return !item.permissions || item.permissions.some(can);
}

function Shell() {
  const { me, can, logout } = useAuth();
  const { t, lang, setLang } = useLang();
  const mode = useMode();
  const theme = useTheme();
  const wide = useMediaQuery(theme.breakpoints.up("md"));
  const [open, setOpen] = useState(false);
  const [toast, setToast] = useState<string | null>(null);
  const location = useLocation();

  const onEvent = useCallback(
    (e: LiveEvent) => {
      if (e.kind === "receipt_submitted" && me?.session_kind === "staff") setToast(t("newReceipt"));
      if (e.kind === "payment_decided" && e.data.customer === me?.telegram_id) {
        setToast(e.data.status === "approved" ? t("paymentApproved") : t("paymentRejected"));
      }
    },
    [me, t],
  );
  useLive(!!me, onEvent);

  const items = NAV.filter((i) => visible(i, can));
  const home = items.find((i) => i.section === "admin")?.path ?? items.find((i) => i.section === "seller")?.path ?? "/me";
  const sections: { key: NavItem["section"]; label: string }[] = [
    { key: "admin", label: t("adminSection") },
    { key: "seller", label: t("sellerSection") },
    { key: "me", label: t("mySection") },
  ];

  const nav = (
    <Box component="nav" aria-label="main" data-testid="nav">
      <Toolbar />
      {sections.map((s) => {
        const list = items.filter((i) => i.section === s.key);
        if (!list.length) return null;
        return (
          <List key={s.key} dense subheader={<ListSubheader sx={{ bgcolor: "transparent" }}>{s.label}</ListSubheader>}>
            {list.map((i) => (
              <ListItemButton
                key={i.path}
                component={RouterLink}
                to={i.path}
                selected={location.pathname === i.path}
                onClick={() => setOpen(false)}
              >
                <ListItemIcon>{i.icon}</ListItemIcon>
                <ListItemText primary={t(i.label)} secondary={i.available ? undefined : t("notAvailable")} />
              </ListItemButton>
            ))}
          </List>
        );
      })}
    </Box>
  );

  return (
    <Box sx={{ display: "flex" }}>
      <AppBar position="fixed" sx={{ zIndex: (th) => th.zIndex.drawer + 1 }} color="default" elevation={1}>
        <Toolbar sx={{ gap: 1 }}>
          {!wide && (
            <IconButton onClick={() => setOpen(true)} aria-label="menu">
              <MenuIcon />
            </IconButton>
          )}
          <Typography variant="h6" sx={{ flexGrow: 1 }} fontWeight={700}>
            {t("appName")}
          </Typography>
          <Typography variant="body2" color="text.secondary" sx={{ display: { xs: "none", sm: "block" } }} data-testid="who">
            {me?.username ? <bdi>@{me.username}</bdi> : me?.telegram_id} · {me?.session_kind === "staff" ? t("staff") : t("customer")}
          </Typography>
          <Button
            startIcon={<TranslateIcon />}
            onClick={() => setLang(lang === "fa" ? "en" : "fa")}
            data-testid="switch-language"
            color="inherit"
          >
            {t("switchLanguage")}
          </Button>
          <Tooltip title={mode.dark ? t("lightMode") : t("darkMode")}>
            <IconButton onClick={mode.toggle} aria-label="theme">
              {mode.dark ? <LightModeIcon /> : <DarkModeIcon />}
            </IconButton>
          </Tooltip>
          <Tooltip title={t("signOut")}>
            <IconButton onClick={() => logout()} aria-label="sign out" data-testid="sign-out">
              <LogoutIcon />
            </IconButton>
          </Tooltip>
        </Toolbar>
      </AppBar>
      {/* MUI puts an anchor="left" drawer on the right when the theme is right-to-left. */}
      <Drawer
        variant={wide ? "permanent" : "temporary"}
        anchor="left"
        open={wide || open}
        onClose={() => setOpen(false)}
        sx={{ width: DRAWER, flexShrink: 0, "& .MuiDrawer-paper": { width: DRAWER, boxSizing: "border-box" } }}
        data-testid="drawer"
      >
        {nav}
        <Divider />
      </Drawer>
      <Box component="main" sx={{ flexGrow: 1, p: { xs: 2, md: 3 }, minWidth: 0 }}>
        <Toolbar />
        <Routes>
          <Route path="/" element={<Navigate to={home} replace />} />
          <Route path="/login" element={<Navigate to={home} replace />} />
          {items.map((i) => (
            <Route key={i.path} path={i.path} element={i.available ? PAGES[i.path] : <NotAvailable title={i.label} />} />
          ))}
          <Route path="*" element={<Navigate to={home} replace />} />
        </Routes>
      </Box>
      <Snackbar
        open={!!toast}
        autoHideDuration={4000}
        onClose={() => setToast(null)}
        message={toast}
        anchorOrigin={{ vertical: "bottom", horizontal: "center" }}
      />
    </Box>
  );
}
