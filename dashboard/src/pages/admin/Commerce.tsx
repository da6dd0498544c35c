import { useQuery } from "@tanstack/react-query";
import { Alert, Chip, Typography } from "@mui/material";
import { api } from "../../api";
import { useAuth } from "../../auth";
import { useLang } from "../../i18n";
import { dateTime, number, toman } from "../../format";
import type { DiscountCode, LeaderboardEntry, Withdrawal } from "../../types";
import { DataTable, ErrorBox, PageHeader } from "../../components/common";
import { WithdrawalsTable } from "../seller/Seller";

/** The withdrawal queue and the discount codes (read-only). */
export function AdminCommissions() {
  const { t, lang, word } = useLang();
  const { can } = useAuth();
  const withdrawals = useQuery({
    queryKey: ["withdrawals"],
    queryFn: () => api<Withdrawal[]>("/api/admin/withdrawals"),
    enabled: can("adjust_wallets"),
  });
  const codes = useQuery({
    queryKey: ["discounts"],
    queryFn: () => api<DiscountCode[]>("/api/admin/discounts"),
    enabled: can("manage_plans"),
  });
  return (
    <>
      <PageHeader title={t("commissions")} />
      {can("adjust_wallets") && (
        <>
          <Typography variant="h6" sx={{ mb: 1 }}>{t("openWithdrawals")}</Typography>
          <Alert severity="info" sx={{ mb: 2 }}>{t("withdrawAdminWrite")}</Alert>
          <ErrorBox error={withdrawals.error} />
          <WithdrawalsTable rows={withdrawals.data} />
        </>
      )}
      {can("manage_plans") && (
        <>
          <Typography variant="h6" sx={{ my: 2 }}>{t("discountCodes")}</Typography>
          <ErrorBox error={codes.error} />
          <DataTable
            rows={codes.data}
            rowKey={(c) => c.code}
            columns={[
              { key: "code", label: t("name"), render: (c) => <bdi>{c.code}</bdi> },
              { key: "kind", label: t("kind"), render: (c) => word(c.kind) },
              { key: "value", label: t("value"), render: (c) => (c.kind === "percent" ? `${number(Number(c.value), lang)}%` : toman(c.value, lang)) },
              { key: "uses", label: t("uses"), render: (c) => `${number(c.uses, lang)}${c.max_uses ? ` / ${number(c.max_uses, lang)}` : ""}` },
              { key: "total", label: t("amount"), render: (c) => toman(c.discount_total, lang) },
              { key: "until", label: t("expires"), render: (c) => dateTime(c.valid_until, lang) },
              { key: "active", label: t("status"), render: (c) => <Chip size="small" color={c.active ? "success" : "default"} label={c.active ? t("active") : t("retired")} /> },
            ]}
          />
        </>
      )}
    </>
  );
}

export function AdminPoints() {
  const { t, lang } = useLang();
  const q = useQuery({ queryKey: ["leaderboard"], queryFn: () => api<LeaderboardEntry[]>("/api/admin/points/leaderboard?limit=100") });
  return (
    <>
      <PageHeader title={`${t("points")} · ${t("leaderboard")}`} />
      <ErrorBox error={q.error} />
      <DataTable
        rows={q.data}
        rowKey={(r) => String(r.customer)}
        columns={[
          { key: "rank", label: t("rank"), render: (r) => number(r.rank, lang) },
          { key: "customer", label: t("customerCol"), render: (r) => (r.username ? <bdi>@{r.username}</bdi> : r.customer) },
          { key: "earned", label: t("earnedPoints"), render: (r) => number(r.earned_total, lang) },
          { key: "balance", label: t("pointsBalance"), render: (r) => number(r.balance, lang) },
        ]}
      />
    </>
  );
}
