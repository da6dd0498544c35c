import { useQuery } from "@tanstack/react-query";
import { Alert, Paper, Stack, Typography, useTheme } from "@mui/material";
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api } from "../../api";
import { useLang } from "../../i18n";
import { cardNumber, dateTime, day, number, toman } from "../../format";
import type { Customer, Sale, SellerCommissions as SellerCommissionsT, SellerDay, Withdrawal } from "../../types";
import { DataTable, ErrorBox, PageHeader, Stat, StatusChip } from "../../components/common";

export function SellerSales() {
  const { t, lang, word } = useLang();
  const q = useQuery({ queryKey: ["seller", "sales"], queryFn: () => api<Sale[]>("/api/seller/sales?limit=200") });
  return (
    <>
      <PageHeader title={t("sales")} />
      <Alert severity="info" sx={{ mb: 2 }}>{t("sellerNote")}</Alert>
      <ErrorBox error={q.error} />
      <DataTable
        rows={q.data}
        rowKey={(r) => `${r.subscription_id}-${r.charge_no}`}
        testId="seller-sales"
        columns={[
          { key: "at", label: t("created"), render: (r) => dateTime(r.at, lang) },
          { key: "customer", label: t("customerCol"), render: (r) => r.customer },
          { key: "plan", label: t("plan"), render: (r) => `${r.plan_name} · ${r.location}` },
          { key: "kind", label: t("kind"), render: (r) => word(r.kind) },
          { key: "amount", label: t("amount"), render: (r) => toman(r.amount, lang) },
          { key: "source", label: "", render: (r) => word(r.source) },
          { key: "refund", label: t("refund"), render: (r) => (r.refunded ? toman(r.refunded, lang) : "") },
        ]}
      />
    </>
  );
}

export function SellerCommissions() {
  const { t, lang } = useLang();
  const q = useQuery({ queryKey: ["seller", "commissions"], queryFn: () => api<SellerCommissionsT>("/api/seller/commissions") });
  const s = q.data?.summary;
  return (
    <>
      <PageHeader title={t("commissions")} />
      <ErrorBox error={q.error} />
      <Stack direction="row" gap={2} flexWrap="wrap" sx={{ mb: 2 }}>
        <Stat label={t("availableCommission")} value={toman(s?.available ?? "0", lang)} testId="commission-available" />
        <Stat label={t("pendingCommission")} value={toman(s?.pending ?? "0", lang)} />
        <Stat label={t("reservedCommission")} value={toman(s?.reserved ?? "0", lang)} />
        <Stat label={t("paidOut")} value={toman(s?.paid_out ?? "0", lang)} />
        <Stat label={t("earnedTotal")} value={toman(s?.earned_total ?? "0", lang)} />
      </Stack>
      <DataTable
        rows={q.data?.commissions}
        rowKey={(r) => `${r.subscription_id}-${r.charge_no}`}
        columns={[
          { key: "at", label: t("created"), render: (r) => dateTime(r.earned_at, lang) },
          { key: "customer", label: t("customerCol"), render: (r) => r.customer },
          { key: "sale", label: t("salesTotal"), render: (r) => toman(r.sale_amount, lang) },
          { key: "rate", label: t("rate"), render: (r) => <bdi>{r.rate}</bdi> },
          { key: "commission", label: t("commission"), render: (r) => toman(r.commission, lang) },
          { key: "status", label: t("status"), render: (r) => <StatusChip status={r.status} /> },
          { key: "release", label: t("releasesAt"), render: (r) => dateTime(r.releases_at, lang) },
        ]}
      />
    </>
  );
}

export function WithdrawalsTable({ rows }: { rows: Withdrawal[] | undefined }) {
  const { t, lang } = useLang();
  return (
    <DataTable
      rows={rows}
      rowKey={(r) => r.id}
      columns={[
        { key: "at", label: t("requested"), render: (r) => dateTime(r.requested_at, lang) },
        { key: "seller", label: t("sellerSection"), render: (r) => r.seller },
        { key: "amount", label: t("amount"), render: (r) => toman(r.amount, lang) },
        { key: "card", label: t("card"), render: (r) => <span dir="ltr">{cardNumber(r.card_number)}</span> },
        { key: "holder", label: t("holder"), render: (r) => r.holder },
        { key: "status", label: t("status"), render: (r) => <StatusChip status={r.status} /> },
        { key: "paid", label: t("paidOut"), render: (r) => (r.paid_at ? `${dateTime(r.paid_at, lang)} · ${r.bank_reference ?? ""}` : r.reject_reason ?? "") },
      ]}
    />
  );
}

export function SellerWithdrawals() {
  const { t } = useLang();
  const q = useQuery({ queryKey: ["seller", "withdrawals"], queryFn: () => api<Withdrawal[]>("/api/seller/withdrawals") });
  return (
    <>
      <PageHeader title={t("withdrawals")} />
      <Alert severity="info" sx={{ mb: 2 }}>{t("withdrawWrite")}</Alert>
      <ErrorBox error={q.error} />
      <WithdrawalsTable rows={q.data} />
    </>
  );
}

export function SellerCustomers() {
  const { t, lang } = useLang();
  const q = useQuery({ queryKey: ["seller", "customers"], queryFn: () => api<Customer[]>("/api/seller/customers?limit=200") });
  return (
    <>
      <PageHeader title={t("myCustomers")} />
      <ErrorBox error={q.error} />
      <DataTable
        rows={q.data}
        rowKey={(r) => String(r.telegram_id)}
        columns={[
          { key: "id", label: t("telegramId"), render: (r) => r.telegram_id },
          { key: "u", label: t("username"), render: (r) => (r.username ? <bdi>@{r.username}</bdi> : "—") },
          { key: "reg", label: t("registered"), render: (r) => dateTime(r.registered_at, lang) },
        ]}
      />
    </>
  );
}

export function SellerPerformance() {
  const { t, lang, dir } = useLang();
  const theme = useTheme();
  const q = useQuery({ queryKey: ["seller", "performance"], queryFn: () => api<SellerDay[]>("/api/seller/performance?days=30") });
  const rows = q.data ?? [];
  const total = rows.reduce((s, r) => s + Number(r.sales_total), 0);
  const count = rows.reduce((s, r) => s + r.sales_count, 0);
  return (
    <>
      <PageHeader title={t("performance")} />
      <ErrorBox error={q.error} />
      <Stack direction="row" gap={2} sx={{ mb: 2 }} flexWrap="wrap">
        <Stat label={t("salesTotal")} value={toman(total, lang)} />
        <Stat label={t("salesCount")} value={number(count, lang)} />
      </Stack>
      <Paper sx={{ p: 2 }}>
        {rows.length === 0 ? (
          <Typography color="text.secondary">{t("empty")}</Typography>
        ) : (
          <ResponsiveContainer width="100%" height={260}>
            <BarChart data={rows.map((r) => ({ day: day(r.day, lang), total: Number(r.sales_total) }))}>
              <CartesianGrid strokeDasharray="3 3" stroke={theme.palette.divider} />
              <XAxis dataKey="day" reversed={dir === "rtl"} stroke={theme.palette.text.secondary} />
              <YAxis orientation={dir === "rtl" ? "right" : "left"} tickFormatter={(v: number) => number(v, lang)} width={90} stroke={theme.palette.text.secondary} />
              <Tooltip formatter={(v: number) => toman(v, lang)} contentStyle={{ background: theme.palette.background.paper }} />
              <Bar dataKey="total" name={t("salesTotal")} fill={theme.palette.secondary.main} />
            </BarChart>
          </ResponsiveContainer>
        )}
      </Paper>
    </>
  );
}
