import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Chip, Paper, Stack, Switch, Table, TableBody, TableCell, TableContainer, TableHead, TableRow, Typography } from "@mui/material";
import { api } from "../../api";
import { useLang, type Key } from "../../i18n";
import { dateTime, number } from "../../format";
import type { FeatureState, FeatureSwitched, LicenseView } from "../../types";
import { ErrorBox, Loading, PageHeader, Stat } from "../../components/common";

const FEATURE_LABELS: Record<string, Key> = {
  backups: "featureBackups",
  chat: "featureChat",
  ai: "featureAi",
  points: "featurePoints",
  broadcasts: "featureBroadcasts",
};

/** Feature toggles: a switch each, with whether the license covers it. */
export function Settings() {
  const { t } = useLang();
  const queries = useQueryClient();
  const [notice, setNotice] = useState<string | null>(null);
  const q = useQuery({ queryKey: ["features"], queryFn: () => api<FeatureState[]>("/api/admin/features") });
  const flip = useMutation({
    mutationFn: (v: { feature: string; enabled: boolean }) =>
      api<FeatureSwitched>(`/api/admin/features/${v.feature}`, { body: { enabled: v.enabled } }),
    onMutate: () => setNotice(null),
    onSuccess: (r) => setNotice(r.changed ? null : t("featureUnchanged")),
    onSettled: () => queries.invalidateQueries({ queryKey: ["features"] }),
  });
  return (
    <>
      <PageHeader title={t("settings")} />
      <ErrorBox error={q.error || flip.error} onRetry={() => q.refetch()} />
      {notice && (
        <Alert severity="info" sx={{ my: 1 }}>
          {notice}
        </Alert>
      )}
      {!q.data ? (
        <Loading />
      ) : (
        <TableContainer component={Paper}>
          <Table size="small" data-testid="features">
            <TableHead>
              <TableRow>
                <TableCell>{t("feature")}</TableCell>
                <TableCell>{t("switchedOn")}</TableCell>
                <TableCell>{t("license")}</TableCell>
                <TableCell>{t("status")}</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {q.data.map((f) => (
                <TableRow key={f.feature} data-feature={f.feature}>
                  <TableCell>
                    <Typography variant="body2" fontWeight={600}>
                      {t(FEATURE_LABELS[f.feature] ?? "feature")}
                    </Typography>
                    <Typography variant="caption" color="text.secondary" dir="ltr">
                      {f.feature}
                    </Typography>
                  </TableCell>
                  <TableCell>
                    <Switch
                      checked={f.enabled}
                      disabled={flip.isPending || (!f.enabled && !f.licensed)}
                      onChange={(e) => flip.mutate({ feature: f.feature, enabled: e.target.checked })}
                      slotProps={{ input: { "aria-label": f.feature, "data-testid": `switch-${f.feature}` } as object }}
                    />
                  </TableCell>
                  <TableCell>
                    {f.licensed ? (
                      <Chip size="small" color="success" label={f.needs_license ? t("licensed") : t("noLicenseNeeded")} />
                    ) : (
                      <>
                        <Chip size="small" color="warning" label={t("notLicensed")} />
                        <Typography variant="caption" display="block" color="text.secondary" data-testid="refusal">
                          {f.refusal}
                        </Typography>
                      </>
                    )}
                  </TableCell>
                  <TableCell>
                    <Chip size="small" color={f.active ? "success" : "default"} label={f.active ? t("running") : t("off")} data-testid="active" />
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      )}
      <Typography variant="body2" color="text.secondary" sx={{ mt: 2 }}>
        {t("featuresHelp")}
      </Typography>
    </>
  );
}

/** The installed license (read-only; installed with `mrjbot license install`). */
export function License() {
  const { t, lang, word } = useLang();
  const q = useQuery({ queryKey: ["license"], queryFn: () => api<LicenseView>("/api/admin/license") });
  const l = q.data;
  const stateColor = l?.state === "valid" ? "success" : l?.state === "grace" ? "warning" : l?.state === "lapsed" ? "error" : "default";
  return (
    <>
      <PageHeader title={t("license")} />
      <ErrorBox error={q.error} onRetry={() => q.refetch()} />
      {!l ? (
        <Loading />
      ) : (
        <Stack gap={2}>
          <Stack direction="row" gap={1} alignItems="center">
            <Chip color={stateColor} label={word(`license_${l.state}`)} data-testid="license-state" data-state={l.state} />
            {l.licensee && (
              <Typography variant="h6" data-testid="licensee">
                {l.licensee}
              </Typography>
            )}
          </Stack>
          {l.problem && <Alert severity="error">{l.problem}</Alert>}
          {l.warning && (
            <Alert severity="warning" data-testid="license-warning">
              {l.warning}
            </Alert>
          )}
          <Stack direction="row" gap={2} flexWrap="wrap">
            <Stat label={t("expires")} value={dateTime(l.expires_at, lang)} testId="license-expires" />
            <Stat label={t("graceEnds")} value={l.grace_days === null ? "—" : `${dateTime(l.grace_ends_at, lang)} (${number(l.grace_days, lang)})`} />
            <Stat label={t("panels")} value={`${number(l.panels_used, lang)} / ${number(l.max_panels, lang)}`} testId="license-panels" />
          </Stack>
          <Paper sx={{ p: 2 }}>
            <Typography variant="subtitle2">{t("licensedFeatures")}</Typography>
            <Stack direction="row" gap={1} flexWrap="wrap" sx={{ mt: 1 }} data-testid="license-features">
              {l.licensed_features.length === 0
                ? "—"
                : l.licensed_features.map((f) => (
                    <Chip key={f} size="small" color={l.active_features.includes(f) ? "success" : "default"} label={t(FEATURE_LABELS[f] ?? "feature")} />
                  ))}
            </Stack>
            {l.installed_at && (
              <Typography variant="caption" color="text.secondary" display="block" sx={{ mt: 1 }}>
                {t("installed")}: {dateTime(l.installed_at, lang)} · {t("issued")}: {dateTime(l.issued_at, lang)} · <span dir="ltr">{l.license_id}</span>
              </Typography>
            )}
          </Paper>
          <Typography variant="body2" color="text.secondary">
            {t("licenseHelp")}
          </Typography>
        </Stack>
      )}
    </>
  );
}
