import { useQuery } from "@tanstack/react-query";
import { Alert, Stack } from "@mui/material";
import { api } from "../../api";
import { useLang } from "../../i18n";
import { dateTime, number } from "../../format";
import type { Points as PointsT } from "../../types";
import { ErrorBox, Loading, PageHeader, Stat } from "../../components/common";

export function Points() {
  const { t, lang } = useLang();
  const q = useQuery({ queryKey: ["my-points"], queryFn: () => api<PointsT>("/api/me/points") });
  const p = q.data;
  return (
    <>
      <PageHeader title={t("points")} />
      <ErrorBox error={q.error} />
      {!p ? (
        <Loading />
      ) : (
        <Stack direction="row" gap={2} flexWrap="wrap" sx={{ mb: 2 }}>
          <Stat label={t("pointsBalance")} value={number(p.balance, lang)} testId="points-balance" />
          <Stat label={t("earnedPoints")} value={number(p.earned_total, lang)} />
          <Stat label={t("redeemedPoints")} value={number(p.redeemed_total, lang)} />
          <Stat label={t("expiredPoints")} value={number(p.expired_total, lang)} />
          <Stat label={t("nextExpiry")} value={dateTime(p.next_expiry, lang)} />
        </Stack>
      )}
      <Alert severity="info">{t("redeemWrite")}</Alert>
    </>
  );
}
