import { useEffect, useRef, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  Badge,
  Box,
  Button,
  Chip,
  List,
  ListItemButton,
  ListItemText,
  MenuItem,
  Paper,
  Stack,
  TextField,
  Typography,
} from "@mui/material";
import { api } from "../../api";
import { useAuth } from "../../auth";
import { useLang } from "../../i18n";
import { dateTime } from "../../format";
import type { ChatHistory, SupportChat } from "../../types";
import { ErrorBox, Loading, PageHeader } from "../../components/common";

function newRequestId(): string {
  return crypto.randomUUID();
}

function Conversation({ id, onClosed }: { id: string; onClosed: () => void }) {
  const { t, lang, word } = useLang();
  const { me } = useAuth();
  const queries = useQueryClient();
  const [text, setText] = useState("");
  // One request id per message typed, so a retried send is sent once.
  const [requestId, setRequestId] = useState(newRequestId);
  const q = useQuery({ queryKey: ["chat", id], queryFn: () => api<ChatHistory>(`/api/admin/chats/${id}`) });
  const refresh = () => {
    queries.invalidateQueries({ queryKey: ["chat", id] });
    queries.invalidateQueries({ queryKey: ["chats"] });
  };
  const take = useMutation({ mutationFn: () => api(`/api/admin/chats/${id}/take`, { method: "POST" }), onSettled: refresh });
  const close = useMutation({
    mutationFn: () => api(`/api/admin/chats/${id}/close`, { method: "POST" }),
    onSuccess: onClosed,
    onSettled: refresh,
  });
  const send = useMutation({
    mutationFn: () => api(`/api/admin/chats/${id}/messages`, { body: { text, request_id: requestId } }),
    onSuccess: () => {
      setText("");
      setRequestId(newRequestId());
    },
    onSettled: refresh,
  });
  const end = useRef<HTMLDivElement>(null);
  const count = q.data?.messages.length ?? 0;
  useEffect(() => end.current?.scrollIntoView({ block: "end" }), [count]);
  if (!q.data) return q.error ? <ErrorBox error={q.error} onRetry={() => q.refetch()} /> : <Loading />;
  const { chat, messages } = q.data;
  const mine = chat.agent === me?.telegram_id;
  return (
    <Paper sx={{ p: 2, display: "flex", flexDirection: "column", gap: 1, minHeight: 420 }} data-testid="conversation" data-chat={chat.id}>
      <Stack direction="row" alignItems="center" gap={1} flexWrap="wrap">
        <Typography variant="h6">
          {chat.username ? <bdi>@{chat.username}</bdi> : chat.customer} · #{chat.number}
        </Typography>
        <Chip size="small" label={word(chat.status)} data-testid="chat-status" />
        {chat.agent && !mine && (
          <Typography variant="body2" color="text.secondary">
            {t("agent")}: {chat.agent_username ? <bdi>@{chat.agent_username}</bdi> : chat.agent}
          </Typography>
        )}
        <Box sx={{ flexGrow: 1 }} />
        {chat.status === "queued" && (
          <Button variant="contained" onClick={() => take.mutate()} disabled={take.isPending} data-testid="take-chat">
            {t("takeChat")}
          </Button>
        )}
        {chat.status !== "closed" && (
          <Button color="error" onClick={() => close.mutate()} disabled={close.isPending} data-testid="close-chat">
            {t("closeChat")}
          </Button>
        )}
      </Stack>
      <ErrorBox error={take.error || close.error || send.error} />
      <Box sx={{ flexGrow: 1, overflowY: "auto", maxHeight: 480, display: "flex", flexDirection: "column", gap: 1 }} data-testid="messages">
        {messages.map((m) => (
          <Box
            key={m.position}
            data-testid="message"
            data-sender={m.sender}
            sx={{
              alignSelf: m.sender === "agent" ? "flex-end" : "flex-start",
              maxWidth: "75%",
              px: 1.5,
              py: 1,
              borderRadius: 2,
              bgcolor: m.sender === "agent" ? "primary.main" : "action.hover",
              color: m.sender === "agent" ? "primary.contrastText" : "text.primary",
            }}
          >
            {m.content_type !== "text" && (
              <Typography variant="caption" display="block">
                [{word(m.content_type)}
                {m.file_name ? `: ${m.file_name}` : ""}]
              </Typography>
            )}
            <Typography variant="body2" sx={{ whiteSpace: "pre-wrap" }}>
              {m.text}
            </Typography>
            <Typography variant="caption" sx={{ opacity: 0.7 }}>
              {dateTime(m.at, lang)}
            </Typography>
          </Box>
        ))}
        <div ref={end} />
      </Box>
      {mine && chat.status === "assigned" && (
        <Stack
          component="form"
          direction="row"
          gap={1}
          onSubmit={(e) => {
            e.preventDefault();
            if (text.trim()) send.mutate();
          }}
        >
          <TextField
            fullWidth
            size="small"
            multiline
            maxRows={6}
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder={t("typeReply")}
            slotProps={{ htmlInput: { maxLength: 4096, "data-testid": "reply-text" } }}
          />
          <Button type="submit" variant="contained" disabled={send.isPending || !text.trim()} data-testid="send-reply">
            {t("send")}
          </Button>
        </Stack>
      )}
    </Paper>
  );
}

/** Live chat for support agents: the queue and their chats; answers reach the customer on Telegram and on their dashboard chat page. */
export function LiveChat() {
  const { t, lang, word } = useLang();
  const [status, setStatus] = useState("open");
  const [selected, setSelected] = useState<string | null>(null);
  const q = useQuery({ queryKey: ["chats", status], queryFn: () => api<SupportChat[]>(`/api/admin/chats?status=${status}`) });
  return (
    <>
      <PageHeader
        title={t("liveChat")}
        actions={
          <TextField select size="small" value={status} onChange={(e) => setStatus(e.target.value)} sx={{ minWidth: 180 }} data-testid="chat-filter">
            {["open", "queued", "mine", "closed"].map((s) => (
              <MenuItem key={s} value={s}>
                {t(s === "open" ? "chatsOpen" : s === "queued" ? "chatsQueued" : s === "mine" ? "chatsMine" : "chatsClosed")}
              </MenuItem>
            ))}
          </TextField>
        }
      />
      <ErrorBox error={q.error} onRetry={() => q.refetch()} />
      <Box sx={{ display: "grid", gap: 2, gridTemplateColumns: { xs: "1fr", md: "320px 1fr" } }}>
        <Paper>
          {!q.data ? (
            <Loading />
          ) : q.data.length === 0 ? (
            <Typography color="text.secondary" sx={{ p: 2 }} data-testid="no-chats">
              {t("noChats")}
            </Typography>
          ) : (
            <List dense data-testid="chats">
              {q.data.map((c) => (
                <ListItemButton key={c.id} selected={selected === c.id} onClick={() => setSelected(c.id)} data-testid="chat" data-chat={c.id}>
                  <ListItemText
                    primary={
                      <Stack direction="row" gap={1} alignItems="center">
                        <span>{c.username ? <bdi>@{c.username}</bdi> : c.customer}</span>
                        <Chip size="small" label={word(c.status)} color={c.status === "queued" ? "warning" : "default"} />
                        {c.waiting_since && <Badge color="error" variant="dot" />}
                      </Stack>
                    }
                    secondary={`${c.last_text ?? ""} · ${dateTime(c.last_at ?? c.opened_at, lang)}`}
                    slotProps={{ secondary: { noWrap: true } }}
                  />
                </ListItemButton>
              ))}
            </List>
          )}
        </Paper>
        {selected ? (
          <Conversation key={selected} id={selected} onClosed={() => undefined} />
        ) : (
          <Paper sx={{ p: 4 }}>
            <Typography color="text.secondary">{t("pickChat")}</Typography>
          </Paper>
        )}
      </Box>
    </>
  );
}
