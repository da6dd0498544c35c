import { useQuery } from "@tanstack/react-query";
import { Paper, Stack, Typography } from "@mui/material";
import { api } from "../../api";
import { useLang } from "../../i18n";
import { number, toman } from "../../format";
import type { DailyTotal, Overview as OverviewT } from "../../types";
import { ErrorBox, Loading, PageHeader, Stat } from "../../components/common";
import { DailyChart } from "./Reports";

export function Overview() {
  const { t, lang } = useLang();
  const overview = useQuery({ queryKey: ["overview"], queryFn: () => api<OverviewT>("/api/admin/overview") });
  const daily = useQuery({ queryKey: ["daily", "recent"], queryFn: () => api<DailyTotal[]>("/api/admin/reports/daily") });
  const o = overview.data;
  return (
    <>
      <PageHeader title={t("overview")} />
      <ErrorBox error={overview.error} onRetry={() => overview.refetch()} />
      {!o ? (
        <Loading />
      ) : (
        <Stack direction="row" gap={2} flexWrap="wrap" sx={{ mb: 3 }}>
          <Stat label={t("customers")} value={number(o.customers, lang)} />
          <Stat label={t("activeSubscriptions")} value={number(o.active_subscriptions, lang)} />
          <Stat label={t("pendingReceipts")} value={number(o.pending_receipts, lang)} testId="stat-pending" />
          <Stat label={t("todaySales")} value={toman(o.today_sales_total, lang)} />
          <Stat label={t("walletTotal")} value={toman(o.wallet_balances_total, lang)} />
        </Stack>
      )}
      <Paper sx={{ p: 2 }}>
        <Typography variant="subtitle1" fontWeight={600} sx={{ mb: 1 }}>
          {t("reports")}
        </Typography>
        <ErrorBox error={daily.error} />
        {daily.data ? <DailyChart rows={daily.data} /> : <Loading />}
      </Paper>
    </>
  );
}
