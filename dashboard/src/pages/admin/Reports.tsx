import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Paper, Stack, TextField, Typography, useTheme } from "@mui/material";
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api } from "../../api";
import { useLang } from "../../i18n";
import { day, number, toman } from "../../format";
import type { DailyTotal } from "../../types";
import { DataTable, ErrorBox, PageHeader } from "../../components/common";

/** Money per day from `daily_totals`; the time axis runs right-to-left in Persian. */
export function DailyChart({ rows }: { rows: DailyTotal[] }) {
  const { t, lang, dir } = useLang();
  const theme = useTheme();
  const data = rows.map((r) => ({
    day: day(r.day, lang),
    sales: Number(r.sales_total),
    approved: Number(r.payments_approved_total),
    refunds: Number(r.refunds_total),
    count: r.sales_count,
  }));
  const axis = { stroke: theme.palette.text.secondary, fontSize: 12 };
  const fmt = (v: number) => number(v, lang);
  return (
    <Stack gap={3}>
      <ResponsiveContainer width="100%" height={280}>
        <LineChart data={data} margin={{ left: 20, right: 20 }}>
          <CartesianGrid strokeDasharray="3 3" stroke={theme.palette.divider} />
          <XAxis dataKey="day" reversed={dir === "rtl"} {...axis} />
          <YAxis orientation={dir === "rtl" ? "right" : "left"} tickFormatter={fmt} width={90} {...axis} />
          <Tooltip formatter={(v: number) => toman(v, lang)} contentStyle={{ background: theme.palette.background.paper }} />
          <Legend />
          <Line type="monotone" dataKey="sales" name={t("salesTotal")} stroke={theme.palette.primary.main} strokeWidth={2} dot={false} />
          <Line type="monotone" dataKey="approved" name={t("approvedTotal")} stroke={theme.palette.secondary.main} strokeWidth={2} dot={false} />
          <Line type="monotone" dataKey="refunds" name={t("refundsTotal")} stroke={theme.palette.error.main} strokeWidth={2} dot={false} />
        </LineChart>
      </ResponsiveContainer>
      <ResponsiveContainer width="100%" height={200}>
        <BarChart data={data} margin={{ left: 20, right: 20 }}>
          <CartesianGrid strokeDasharray="3 3" stroke={theme.palette.divider} />
          <XAxis dataKey="day" reversed={dir === "rtl"} {...axis} />
          <YAxis orientation={dir === "rtl" ? "right" : "left"} allowDecimals={false} tickFormatter={fmt} {...axis} />
          <Tooltip formatter={(v: number) => number(v, lang)} contentStyle={{ background: theme.palette.background.paper }} />
          <Bar dataKey="count" name={t("salesCount")} fill={theme.palette.primary.main} />
        </BarChart>
      </ResponsiveContainer>
    </Stack>
  );
}

const iso = (d: Date) => d.toISOString().slice(0, 10);

export function Reports() {
  const { t, lang } = useLang();
  const today = new Date();
  const [from, setFrom] = useState(iso(new Date(today.getTime() - 29 * 86400_000)));
  const [to, setTo] = useState(iso(today));
  const q = useQuery({
    queryKey: ["daily", from, to],
    queryFn: () => api<DailyTotal[]>(`/api/admin/reports/daily?from=${from}&to=${to}`),
  });
  return (
    <>
      <PageHeader
        title={t("reports")}
        actions={
          <>
            <TextField size="small" type="date" label={t("from")} value={from} onChange={(e) => setFrom(e.target.value)} slotProps={{ inputLabel: { shrink: true } }} />
            <TextField size="small" type="date" label={t("to")} value={to} onChange={(e) => setTo(e.target.value)} slotProps={{ inputLabel: { shrink: true } }} />
          </>
        }
      />
      <ErrorBox error={q.error} />
      <Paper sx={{ p: 2, mb: 2 }}>{q.data && (q.data.length ? <DailyChart rows={q.data} /> : <Typography color="text.secondary">{t("empty")}</Typography>)}</Paper>
      <DataTable
        rows={q.data}
        rowKey={(r) => r.day}
        columns={[
          { key: "day", label: t("from"), render: (r) => day(r.day, lang) },
          { key: "sales", label: t("salesTotal"), render: (r) => `${toman(r.sales_total, lang)} (${number(r.sales_count, lang)})` },
          { key: "approved", label: t("approvedTotal"), render: (r) => `${toman(r.payments_approved_total, lang)} (${number(r.payments_approved_count, lang)})` },
          { key: "credits", label: t("creditsTotal"), render: (r) => toman(r.wallet_credits_total, lang) },
          { key: "refunds", label: t("refundsTotal"), render: (r) => toman(r.refunds_total, lang) },
        ]}
      />
    </>
  );
}
