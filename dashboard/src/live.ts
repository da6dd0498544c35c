// Live updates: Server-Sent Events from /api/live, read with fetch so the
// bearer token goes in a header (EventSource cannot send one). Each event
// invalidates the queries it affects; React Query refetches what is on screen.
import { useEffect } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { currentAccessToken, refresh } from "./api";

export interface LiveEvent {
  kind: string;
  position: number;
  at: string;
  data: Record<string, unknown>;
}

const affects: Record<string, string[][]> = {
  receipt_submitted: [["pending"], ["payments"], ["overview"]],
  payment_decided: [["pending"], ["payments"], ["overview"], ["daily"], ["my-payments"]],
  payment_changed: [["pending"], ["payments"], ["my-payments"]],
  wallet_changed: [["me"], ["customers"], ["customer"], ["transactions"], ["my-transactions"], ["overview"], ["daily"]],
  subscription_changed: [["subscriptions"], ["my-subscriptions"], ["overview"], ["seller"]],
  customer_changed: [["customers"], ["customer"], ["me"], ["roles"]],
  plans_changed: [["plans"], ["admin-plans"]],
  panel_health: [["panels"]],
  staff_changed: [["staff"], ["me"]],
  features_changed: [["features"], ["license"]],
  license_changed: [["license"], ["features"]],
  chat_changed: [["chats"], ["chat"], ["my-chat"]],
  chat_message: [["chat"], ["chats"], ["my-chat"]],
  resync: [[]],
};

export function useLive(enabled: boolean, onEvent: (e: LiveEvent) => void) {
  const queries = useQueryClient();
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let controller: AbortController | null = null;
    (async () => {
      let failures = 0;
      while (!stopped) {
        controller = new AbortController();
        try {
          const res = await fetch("/api/live", {
            headers: { Authorization: `Bearer ${currentAccessToken() ?? ""}` },
            signal: controller.signal,
          });
          if (res.status === 401) {
            if (!(await refresh())) return;
            continue;
          }
          if (!res.ok || !res.body) throw new Error(`live: ${res.status}`);
          failures = 0;
          const reader = res.body.getReader();
          const decoder = new TextDecoder();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true });
            let end: number;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              let kind = "message";
              let data = "";
              for (const line of block.split("\n")) {
                if (line.startsWith("event:")) kind = line.slice(6).trim();
                else if (line.startsWith("data:")) data += line.slice(5).trim();
              }
              if (kind === "ready" || !data) continue;
              for (const key of affects[kind] ?? []) {
                queries.invalidateQueries(key.length ? { queryKey: key } : undefined);
              }
              try {
                onEvent(JSON.parse(data) as LiveEvent);
              } catch {
                /* a malformed event changes nothing on screen */
              }
            }
          }
        } catch {
          if (stopped) return;
          failures += 1;
        }
        await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** failures, 10_000)));
      }
    })();
    return () => {
      stopped = true;
      controller?.abort();
    };
  }, [enabled, queries, onEvent]);
}
