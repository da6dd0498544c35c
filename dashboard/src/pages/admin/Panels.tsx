import { useQuery } from "@tanstack/react-query";
import { Chip } from "@mui/material";
import { api } from "../../api";
import { useLang } from "../../i18n";
import { dateTime, number } from "../../format";
import type { Panel } from "../../types";
import { DataTable, ErrorBox, PageHeader } from "../../components/common";

export function Panels() {
  const { t, lang } = useLang();
  const q = useQuery({ queryKey: ["panels"], queryFn: () => api<Panel[]>("/api/admin/panels") });
  return (
    <>
      <PageHeader title={t("panels")} />
      <ErrorBox error={q.error} />
      <DataTable
        rows={q.data}
        rowKey={(r) => r.id}
        columns={[
          { key: "name", label: t("name"), render: (r) => r.name },
          { key: "loc", label: t("location"), render: (r) => r.location },
          { key: "host", label: "Host", render: (r) => <span dir="ltr">{r.public_host}</span> },
          { key: "clients", label: t("clients"), render: (r) => `${number(r.clients, lang)} / ${number(r.capacity, lang)}` },
          {
            key: "health",
            label: t("status"),
            render: (r) =>
              r.retired ? (
                <Chip size="small" label={t("retired")} />
              ) : (
                <Chip size="small" color={r.healthy ? "success" : "error"} label={r.healthy ? t("healthy") : `${t("unhealthy")}: ${r.health_reason ?? ""}`} />
              ),
          },
          { key: "cpu", label: "CPU", render: (r) => (r.cpu_percent === null ? "—" : `${number(Math.round(r.cpu_percent), lang)}%`) },
          { key: "xray", label: "Xray", render: (r) => r.xray_state ?? "—" },
          { key: "check", label: t("lastCheck"), render: (r) => (r.checked_at ? `${dateTime(r.checked_at, lang)}${r.last_error ? ` · ${r.last_error}` : ""}` : "—") },
        ]}
      />
    </>
  );
}
