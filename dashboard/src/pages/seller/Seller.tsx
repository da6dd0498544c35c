import { useQuery } from "@tanstack/react-query";
import { Alert, Paper, Stack, Typography, useTheme } from "@mui/material";
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api } from "../../api";
import { useLang } from "../../i18n";
import { dateTime, day, number, toman } from "../../format";
import type { Customer, SellerDay, Subscription } from "../../types";
import { DataTable, ErrorBox, PageHeader, Stat, StatusChip } from "../../components/common";

export function SellerSales() {
  const { t, lang } = useLang();
  const q = useQuery({ queryKey: ["seller", "sales"], queryFn: () => api<Subscription[]>("/api/seller/sales?limit=200") });
  return (
    <>
      <PageHeader title={t("sales")} />
      <Alert severity="info" sx={{ mb: 2 }}>{t("sellerNote")}</Alert>
      <ErrorBox error={q.error} />
      <DataTable
        rows={q.data}
        rowKey={(r) => r.id}
        columns={[
          { key: "at", label: t("created"), render: (r) => dateTime(r.requested_at, lang) },
          { key: "customer", label: t("customerCol"), render: (r) => r.customer },
          { key: "plan", label: t("plan"), render: (r) => r.plan_name },
          { key: "paid", label: t("paid"), render: (r) => toman(r.paid, lang) },
          { key: "status", label: t("status"), render: (r) => <StatusChip status={r.status} /> },
        ]}
      />
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
