import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import {
  Alert,
  Box,
  Button,
  Card,
  CardActions,
  CardContent,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  LinearProgress,
  List,
  ListItemButton,
  ListItemText,
  Stack,
  Typography,
} from "@mui/material";
import { QRCodeSVG } from "qrcode.react";
import { api } from "../../api";
import { useAuth } from "../../auth";
import { useLang } from "../../i18n";
import { bytes, dateTime, toman } from "../../format";
import type { Plan, PurchaseResult, Subscription } from "../../types";
import { ErrorBox, Loading, PageHeader, StatusChip } from "../../components/common";

function BuyDialog({ onClose }: { onClose: () => void }) {
  const { t, lang } = useLang();
  const queries = useQueryClient();
  const { reload } = useAuth();
  const plans = useQuery({ queryKey: ["plans"], queryFn: () => api<Plan[]>("/api/plans") });
  const [result, setResult] = useState<PurchaseResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [requestId] = useState(() => crypto.randomUUID());
  const buy = async (plan: Plan, location: string) => {
    setError(null);
    try {
      const r = await api<PurchaseResult>("/api/me/subscriptions", { body: { plan_id: plan.id, location, request_id: requestId } });
      setResult(r);
      queries.invalidateQueries({ queryKey: ["my-subscriptions"] });
      await reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Dialog open onClose={onClose} fullWidth maxWidth="sm">
      <DialogTitle>{t("buyPlan")}</DialogTitle>
      <DialogContent>
        {result ? (
          <Alert severity={result.status === "active" ? "success" : "error"}>
            {result.status === "active" ? `${t("active")} · ${t("expires")}: ${dateTime(result.expires_at, lang)}` : result.reason}
          </Alert>
        ) : !plans.data ? (
          <Loading />
        ) : (
          <List>
            {plans.data.flatMap((p) =>
              p.locations.map((l) => (
                <ListItemButton key={`${p.id}-${l}`} onClick={() => buy(p, l)}>
                  <ListItemText
                    primary={`${p.name} · ${l}`}
                    secondary={`${p.duration_days} ${t("days")} · ${p.traffic_gb ? `${p.traffic_gb} GB` : t("unlimited")} · ${toman(p.price, lang)}`}
                  />
                </ListItemButton>
              )),
            )}
          </List>
        )}
        <ErrorBox error={error} />
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>{t("close")}</Button>
      </DialogActions>
    </Dialog>
  );
}

function SubscriptionCard({ s }: { s: Subscription }) {
  const { t, lang, word } = useLang();
  const queries = useQueryClient();
  const { reload } = useAuth();
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState<string | null>(null);
  const usedShare = s.traffic_gb && s.used_bytes !== null ? Math.min(100, (s.used_bytes / (s.traffic_gb * 1024 ** 3)) * 100) : null;
  return (
    <Card data-testid="subscription">
      <CardContent>
        <Stack direction="row" justifyContent="space-between" alignItems="center">
          <Typography variant="h6">{s.plan_name}</Typography>
          <StatusChip status={s.status} />
        </Stack>
        <Typography color="text.secondary">
          {s.location} · {t("expires")}: {dateTime(s.expires_at, lang)}
        </Typography>
        <Typography color="text.secondary">
          {t("traffic")}: {bytes(s.used_bytes, lang)} / {s.traffic_gb ? `${s.traffic_gb} GB` : t("unlimited")}
        </Typography>
        {usedShare !== null && <LinearProgress variant="determinate" value={usedShare} sx={{ my: 1 }} />}
        {s.status === "active" &&
          (s.sub_url ? (
            <Box sx={{ mt: 2, textAlign: "center" }}>
              <Box sx={{ display: "inline-block", p: 1.5, bgcolor: "white", borderRadius: 2 }}>
                <QRCodeSVG value={s.sub_url} size={180} />
              </Box>
              <Typography variant="body2" sx={{ mt: 1, wordBreak: "break-all" }} dir="ltr">
                {s.sub_url}
              </Typography>
            </Box>
          ) : (
            <Alert severity="info" sx={{ mt: 1 }}>
              {t("notProvisioned")} ({word(s.provisioning)})
            </Alert>
          ))}
        {s.last_failure && <Alert severity="warning" sx={{ mt: 1 }}>{s.last_failure}</Alert>}
        {note && <Alert severity="success" sx={{ mt: 1 }}>{note}</Alert>}
        <ErrorBox error={error} />
      </CardContent>
      {(s.status === "active" || s.status === "expired") && (
        <CardActions>
          <Button
            onClick={async () => {
              setError(null);
              try {
                const r = await api<PurchaseResult>(`/api/me/subscriptions/${s.id}/renew`, { method: "POST" });
                setNote(r.status === "active" ? `${t("expires")}: ${dateTime(r.expires_at, lang)}` : r.reason);
                queries.invalidateQueries({ queryKey: ["my-subscriptions"] });
                await reload();
              } catch (e) {
                setError(e);
              }
            }}
          >
            {t("renew")}
          </Button>
        </CardActions>
      )}
    </Card>
  );
}

export function MySubscriptions() {
  const { t } = useLang();
  const [buying, setBuying] = useState(false);
  const q = useQuery({ queryKey: ["my-subscriptions"], queryFn: () => api<Subscription[]>("/api/me/subscriptions") });
  return (
    <>
      <PageHeader title={t("mySubscriptions")} actions={<Button variant="contained" onClick={() => setBuying(true)}>{t("buyPlan")}</Button>} />
      <ErrorBox error={q.error} />
      {!q.data ? (
        <Loading />
      ) : q.data.length === 0 ? (
        <Typography color="text.secondary">{t("empty")}</Typography>
      ) : (
        <Box sx={{ display: "grid", gap: 2, gridTemplateColumns: "repeat(auto-fill, minmax(320px, 1fr))" }}>
          {q.data.map((s) => (
            <SubscriptionCard key={s.id} s={s} />
          ))}
        </Box>
      )}
      {buying && <BuyDialog onClose={() => setBuying(false)} />}
    </>
  );
}
