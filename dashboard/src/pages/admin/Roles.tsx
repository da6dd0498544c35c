import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Checkbox, Chip, FormControlLabel, FormGroup } from "@mui/material";
import { api } from "../../api";
import { useAuth } from "../../auth";
import { useLang } from "../../i18n";
import { number } from "../../format";
import type { Roles } from "../../types";
import { DataTable, ErrorBox, FormDialog, PageHeader } from "../../components/common";

export function RolesPage() {
  const { t, lang } = useLang();
  const { can } = useAuth();
  const queries = useQueryClient();
  const [adding, setAdding] = useState(false);
  const [picked, setPicked] = useState<string[]>([]);
  const q = useQuery({ queryKey: ["roles"], queryFn: () => api<Roles>("/api/admin/roles") });
  return (
    <>
      <PageHeader title={t("roles")} actions={can("manage_roles") && <Button variant="contained" onClick={() => setAdding(true)}>{t("defineRole")}</Button>} />
      <ErrorBox error={q.error} />
      <DataTable
        rows={q.data?.roles}
        rowKey={(r) => r.name}
        columns={[
          { key: "name", label: t("name"), render: (r) => <>{r.name} {r.built_in && <Chip size="small" label={t("builtIn")} />}</> },
          { key: "perms", label: t("permissions"), render: (r) => r.permissions.map((p) => <Chip key={p} size="small" variant="outlined" label={p} sx={{ m: 0.25 }} />) },
          { key: "holders", label: t("holders"), render: (r) => number(r.holders, lang) },
        ]}
      />
      <FormDialog
        open={adding}
        title={t("defineRole")}
        submitLabel={t("add")}
        fields={[{ name: "name", label: t("name") }]}
        onClose={() => setAdding(false)}
        onSubmit={async (v) => {
          await api("/api/admin/roles", { body: { name: v.name, permissions: picked } });
          setPicked([]);
          queries.invalidateQueries({ queryKey: ["roles"] });
        }}
      >
        <FormGroup>
          {q.data?.permissions.map((p) => (
            <FormControlLabel
              key={p}
              label={p}
              control={<Checkbox checked={picked.includes(p)} onChange={(e) => setPicked((x) => (e.target.checked ? [...x, p] : x.filter((y) => y !== p)))} />}
            />
          ))}
        </FormGroup>
      </FormDialog>
    </>
  );
}
