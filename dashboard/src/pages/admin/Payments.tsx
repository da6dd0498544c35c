import { useEffect, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Box, Button, Card, CardActions, CardContent, CardMedia, Chip, MenuItem, Stack, Tab, Tabs, TextField, Typography } from "@mui/material";
import { api, blobUrl } from "../../api";
import { useAuth } from "../../auth";
import { useLang } from "../../i18n";
import { cardNumber, dateTime, toman } from "../../format";
import type { Payment, PendingReceipt } from "../../types";
import { DataTable, ErrorBox, FormDialog, Loading, PageHeader, StatusChip } from "../../components/common";

function ReceiptImage({ url }: { url: string }) {
  const [src, setSrc] = useState<string | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  useEffect(() => {
    let revoke: string | null = null;
    blobUrl(url)
      .then((u) => {
        revoke = u;
        setSrc(u);
      })
      .catch((e: Error) => setFailed(e.message));
    return () => {
      if (revoke) URL.revokeObjectURL(revoke);
    };
  }, [url]);
  if (failed) return <Alert severity="warning">{failed}</Alert>;
  if (!src) return <Loading />;
  return (
    <a href={src} target="_blank" rel="noreferrer">
      <CardMedia component="img" image={src} alt="receipt" sx={{ maxHeight: 320, objectFit: "contain", bgcolor: "black" }} data-testid="receipt-image" />
    </a>
  );
}

/** What OCR read on the receipt and the mismatches the domain flagged:
 * a field that differs from the payment is shown in red, and the whole
 * reading sits in a warning box until it matches. */
function Ocr({ r }: { r: PendingReceipt }) {
  const { t, lang, word } = useLang();
  if (!r.ocr_read_at) {
    return (
      <Typography variant="body2" color="text.secondary" sx={{ mt: 1 }} data-testid="ocr">
        {t("ocrReading")}: {t("ocrNone")}
      </Typography>
    );
  }
  const flags = r.ocr_flags ?? [];
  const has = (f: string) => flags.includes(f);
  const bad = (f: string) => (has(f) ? { color: "error.main", fontWeight: 700 } : {});
  const reusedBy = (r.ocr_flag_details ?? []).find((d) => d.flag === "tracking_reused")?.payment;
  const card = r.ocr_card ? r.ocr_card.replace(/(.{4})(?=.)/g, "$1 ") : "—";
  return (
    <Box
      sx={{ mt: 1, p: 1, borderRadius: 1, border: 1, borderColor: flags.length ? "warning.main" : "success.main" }}
      data-testid="ocr"
      data-flags={flags.join(" ")}
    >
      <Typography variant="subtitle2">{t("ocrReading")}</Typography>
      <Typography variant="body2" data-testid="ocr-amount" data-mismatch={has("amount_differs") || undefined} sx={bad("amount_differs")}>
        {t("amount")}: {r.ocr_amount ? toman(r.ocr_amount, lang) : "—"}
      </Typography>
      <Typography variant="body2" data-testid="ocr-card" data-mismatch={has("card_differs") || undefined} sx={bad("card_differs")}>
        {t("card")}: <bdi dir="ltr">{card}</bdi>
      </Typography>
      <Typography variant="body2" data-testid="ocr-tracking" sx={bad("tracking_reused")}>
        {t("tracking")}: <bdi>{r.ocr_tracking ?? "—"}</bdi>
        {reusedBy ? ` (${t("ocrReusedBy")} ${reusedBy.slice(0, 8)})` : ""}
      </Typography>
      <Typography variant="body2" sx={{ ...bad("time_before_request"), ...bad("time_in_future") }}>
        {t("ocrPaidAt")}: {dateTime(r.ocr_paid_at, lang)}
      </Typography>
      {flags.length === 0 ? (
        <Chip size="small" color="success" label={t("ocrClean")} sx={{ mt: 0.5 }} data-testid="ocr-clean" />
      ) : (
        <>
          <Alert severity="warning" sx={{ mt: 0.5, py: 0 }} data-testid="ocr-mismatch">
            {t("ocrMismatch")}
          </Alert>
          {flags.map((f) => (
            <Chip
              key={f}
              size="small"
              color={f.endsWith("_unreadable") ? "default" : "error"}
              label={word(f)}
              sx={{ mt: 0.5, mx: 0.25 }}
              data-testid="ocr-flag"
            />
          ))}
        </>
      )}
      {r.ocr_text && (
        <details>
          <summary>
            <Typography variant="caption" component="span">
              {t("ocrText")} ({r.ocr_engine})
            </Typography>
          </summary>
          <Typography variant="caption" component="pre" sx={{ whiteSpace: "pre-wrap", m: 0 }}>
            {r.ocr_text}
          </Typography>
        </details>
      )}
    </Box>
  );
}

function Queue() {
  const { t, lang, word } = useLang();
  const queries = useQueryClient();
  const [rejecting, setRejecting] = useState<PendingReceipt | null>(null);
  const q = useQuery({ queryKey: ["pending"], queryFn: () => api<PendingReceipt[]>("/api/admin/payments/pending") });
  const approve = useMutation({
    mutationFn: (id: string) => api(`/api/admin/payments/${id}/approve`, { method: "POST" }),
    onSettled: () => queries.invalidateQueries({ queryKey: ["pending"] }),
  });
  return (
    <>
      <ErrorBox error={q.error || approve.error} onRetry={() => q.refetch()} />
      {!q.data ? (
        <Loading />
      ) : q.data.length === 0 ? (
        <Typography color="text.secondary" data-testid="queue-empty">
          {t("noReceipts")}
        </Typography>
      ) : (
        <Box sx={{ display: "grid", gap: 2, gridTemplateColumns: "repeat(auto-fill, minmax(300px, 1fr))" }}>
          {q.data.map((r) => (
            <Card key={r.payment_id} data-testid="receipt" data-payment={r.payment_id}>
              <ReceiptImage url={r.receipt_url} />
              <CardContent>
                <Typography variant="h6" data-testid="receipt-amount">
                  {toman(r.amount, lang)}
                </Typography>
                <Typography variant="body2" data-testid="receipt-customer">
                  {r.username ? <bdi>@{r.username}</bdi> : ""} ({r.customer})
                </Typography>
                <Typography variant="body2" color="text.secondary">
                  {word(r.purpose)}
                  {r.plan_name ? ` · ${r.plan_name}` : ""}
                </Typography>
                <Typography variant="body2" color="text.secondary" dir="ltr">
                  {cardNumber(r.card_number)} · {r.card_holder}
                </Typography>
                <Typography variant="caption" color="text.secondary">
                  {t("submitted")}: {dateTime(r.submitted_at, lang)}
                </Typography>
                <Ocr r={r} />
              </CardContent>
              <CardActions>
                <Button variant="contained" color="success" onClick={() => approve.mutate(r.payment_id)} disabled={approve.isPending} data-testid="approve">
                  {t("approve")}
                </Button>
                <Button color="error" onClick={() => setRejecting(r)} data-testid="reject">
                  {t("reject")}
                </Button>
              </CardActions>
            </Card>
          ))}
        </Box>
      )}
      <FormDialog
        open={!!rejecting}
        title={t("rejectReceipt")}
        submitLabel={t("reject")}
        fields={[{ name: "reason", label: t("reason") }]}
        onClose={() => setRejecting(null)}
        onSubmit={async (v) => {
          await api(`/api/admin/payments/${rejecting!.payment_id}/reject`, { body: { reason: v.reason } });
          queries.invalidateQueries({ queryKey: ["pending"] });
        }}
      />
    </>
  );
}

function History() {
  const { t, lang, word } = useLang();
  const [status, setStatus] = useState("");
  const q = useQuery({
    queryKey: ["payments", status],
    queryFn: () => api<Payment[]>(`/api/admin/payments?limit=200${status ? `&status=${status}` : ""}`),
  });
  return (
    <>
      <TextField select size="small" label={t("status")} value={status} onChange={(e) => setStatus(e.target.value)} sx={{ mb: 2, minWidth: 220 }}>
        <MenuItem value="">—</MenuItem>
        {["awaiting_receipt", "awaiting_review", "approved", "rejected"].map((s) => (
          <MenuItem key={s} value={s}>
            {word(s)}
          </MenuItem>
        ))}
      </TextField>
      <ErrorBox error={q.error} />
      <DataTable
        rows={q.data}
        rowKey={(r) => r.id}
        columns={[
          { key: "created", label: t("created"), render: (r) => dateTime(r.created_at, lang) },
          { key: "customer", label: t("customerCol"), render: (r) => r.customer },
          { key: "amount", label: t("amount"), render: (r) => toman(r.amount, lang) },
          { key: "purpose", label: t("purpose"), render: (r) => word(r.purpose) },
          { key: "method", label: t("card"), render: (r) => word(r.method) },
          { key: "status", label: t("status"), render: (r) => <StatusChip status={r.status} /> },
          { key: "decided", label: t("decided"), render: (r) => (r.decided_at ? `${dateTime(r.decided_at, lang)} · ${r.decided_by ?? ""}` : "—") },
          { key: "reason", label: t("reason"), render: (r) => r.reject_reason ?? "" },
        ]}
      />
    </>
  );
}

export function Payments() {
  const { t } = useLang();
  const { can } = useAuth();
  const [tab, setTab] = useState(can("approve_receipts") ? "queue" : "history");
  return (
    <>
      <PageHeader title={t("payments")} />
      <Tabs value={tab} onChange={(_, v) => setTab(v)} sx={{ mb: 2 }}>
        {can("approve_receipts") && <Tab value="queue" label={t("queue")} data-testid="tab-queue" />}
        <Tab value="history" label={t("history")} data-testid="tab-history" />
      </Tabs>
      <Stack>{tab === "queue" ? <Queue /> : <History />}</Stack>
    </>
  );
}
