import { useState, type ReactNode } from "react";
import {
  Alert,
  Box,
  Button,
  Card,
  CardContent,
  Chip,
  CircularProgress,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from "@mui/material";
import HourglassEmptyIcon from "@mui/icons-material/HourglassEmpty";
import { ApiError } from "../api";
import { useLang, type Key } from "../i18n";

export function PageHeader({ title, actions }: { title: string; actions?: ReactNode }) {
  return (
    <Stack direction="row" alignItems="center" justifyContent="space-between" sx={{ mb: 2, gap: 2, flexWrap: "wrap" }}>
      <Typography variant="h5" component="h1" fontWeight={600}>
        {title}
      </Typography>
      <Stack direction="row" gap={1}>
        {actions}
      </Stack>
    </Stack>
  );
}

/** A page (or part) whose capability does not exist yet: says so, shows no data. */
export function NotAvailable({ title }: { title: Key }) {
  const { t } = useLang();
  return (
    <Box>
      <PageHeader title={t(title)} />
      <Paper sx={{ p: 4, textAlign: "center" }} data-testid="not-available">
        <HourglassEmptyIcon sx={{ fontSize: 48, opacity: 0.6 }} />
        <Typography variant="h6" sx={{ mt: 1 }}>
          {t("notAvailable")}
        </Typography>
        <Typography color="text.secondary">{t("notAvailableBody")}</Typography>
      </Paper>
    </Box>
  );
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    const fields = Object.entries(e.fields);
    return fields.length ? `${e.message}: ${fields.map(([k, v]) => `${k} — ${v}`).join("; ")}` : e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useLang();
  if (!error) return null;
  return (
    <Alert
      severity="error"
      sx={{ my: 1 }}
      action={onRetry ? <Button onClick={onRetry}>{t("retry")}</Button> : undefined}
      role="alert"
    >
      {errorText(error)}
    </Alert>
  );
}

export function Loading() {
  const { t } = useLang();
  return (
    <Stack direction="row" alignItems="center" gap={1} sx={{ p: 2 }}>
      <CircularProgress size={20} />
      <Typography color="text.secondary">{t("loading")}</Typography>
    </Stack>
  );
}

export interface Column<T> {
  key: string;
  label: string;
  render: (row: T) => ReactNode;
  align?: "left" | "right" | "center";
}

export function DataTable<T>({
  rows,
  columns,
  rowKey,
  onRowClick,
  testId,
}: {
  rows: T[] | undefined;
  columns: Column<T>[];
  rowKey: (row: T) => string;
  onRowClick?: (row: T) => void;
  testId?: string;
}) {
  const { t } = useLang();
  if (!rows) return <Loading />;
  return (
    <TableContainer component={Paper} data-testid={testId}>
      <Table size="small">
        <TableHead>
          <TableRow>
            {columns.map((c) => (
              <TableCell key={c.key} align={c.align}>
                {c.label}
              </TableCell>
            ))}
          </TableRow>
        </TableHead>
        <TableBody>
          {rows.length === 0 && (
            <TableRow>
              <TableCell colSpan={columns.length}>
                <Typography color="text.secondary">{t("empty")}</Typography>
              </TableCell>
            </TableRow>
          )}
          {rows.map((r) => (
            <TableRow
              key={rowKey(r)}
              hover={!!onRowClick}
              sx={onRowClick ? { cursor: "pointer" } : undefined}
              onClick={onRowClick ? () => onRowClick(r) : undefined}
              data-row={rowKey(r)}
            >
              {columns.map((c) => (
                <TableCell key={c.key} align={c.align}>
                  {c.render(r)}
                </TableCell>
              ))}
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </TableContainer>
  );
}

export function StatusChip({ status }: { status: string }) {
  const { word } = useLang();
  const color =
    status === "active" || status === "approved" || status === "provisioned"
      ? "success"
      : status === "failed" || status === "rejected" || status === "missing"
        ? "error"
        : status === "cancelled" || status === "expired"
          ? "default"
          : "warning";
  return <Chip size="small" color={color} label={word(status)} />;
}

export function Stat({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return (
    <Card sx={{ flex: "1 1 180px" }}>
      <CardContent>
        <Typography color="text.secondary" variant="body2">
          {label}
        </Typography>
        <Typography variant="h5" fontWeight={600} data-testid={testId}>
          {value}
        </Typography>
      </CardContent>
    </Card>
  );
}

/** A dialog with text fields that runs `onSubmit` and shows its error. */
export function FormDialog({
  open,
  title,
  fields,
  submitLabel,
  onClose,
  onSubmit,
  children,
}: {
  open: boolean;
  title: string;
  fields: { name: string; label: string; type?: string; initial?: string; helper?: string }[];
  submitLabel: string;
  onClose: () => void;
  onSubmit: (values: Record<string, string>) => Promise<void>;
  children?: ReactNode;
}) {
  const { t } = useLang();
  const [values, setValues] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const value = (name: string, initial?: string) => values[name] ?? initial ?? "";
  const fieldErrors = error instanceof ApiError ? error.fields : {};
  return (
    <Dialog open={open} onClose={onClose} fullWidth maxWidth="sm">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const all: Record<string, string> = {};
            for (const f of fields) all[f.name] = value(f.name, f.initial);
            await onSubmit(all);
            setValues({});
            onClose();
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <DialogTitle>{title}</DialogTitle>
        <DialogContent>
          {children}
          <Stack gap={2} sx={{ mt: 1 }}>
            {fields.map((f) => (
              <TextField
                key={f.name}
                name={f.name}
                label={f.label}
                type={f.type ?? "text"}
                value={value(f.name, f.initial)}
                onChange={(e) => setValues((v) => ({ ...v, [f.name]: e.target.value }))}
                error={!!fieldErrors[f.name]}
                helperText={fieldErrors[f.name] ?? f.helper}
                autoFocus={f === fields[0]}
              />
            ))}
          </Stack>
          <ErrorBox error={error} />
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>{t("cancel")}</Button>
          <Button type="submit" variant="contained" disabled={busy}>
            {submitLabel}
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
