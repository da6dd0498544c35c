// Shapes of the API's answers (see /docs for the full OpenAPI document).

export interface Customer {
  telegram_id: number;
  username: string | null;
  language: string;
  referrer: number | null;
  blocked: boolean;
  block_reason: string | null;
  roles: string[];
  balance: string;
  registered_at: string;
}

export interface StaffStatus {
  totp_enabled: boolean;
  suspended: boolean;
}

export interface Me extends Customer {
  session_kind: "staff" | "customer";
  permissions: string[];
  staff: StaffStatus | null;
}

export interface CustomerDetail extends Customer {
  staff: StaffStatus | null;
  subscriptions: number;
  active_subscriptions: number;
}

export interface LedgerEntry {
  position: number;
  customer: number;
  direction: "credit" | "debit";
  amount: string;
  reason: string;
  reference: string;
  balance_after: string;
  at: string;
}

export interface Payment {
  id: string;
  customer: number;
  amount: string;
  method: string;
  card_id: string | null;
  purpose: string;
  plan_id: string | null;
  location: string | null;
  status: string;
  has_receipt: boolean;
  decided_by: string | null;
  reject_reason: string | null;
  created_at: string;
  decided_at: string | null;
}

export interface Sale {
  subscription_id: string;
  charge_no: number;
  kind: string;
  customer: number;
  plan_id: string;
  plan_name: string;
  location: string;
  amount: string;
  source: string | null;
  at: string;
  refunded: string | null;
}

export interface SellerSummary {
  pending: string;
  available: string;
  reserved: string;
  paid_out: string;
  earned_total: string;
  reversed_total: string;
  commissions_count: number;
  clients: number;
  sales_count: number;
  sales_total: string;
}

export interface Commission {
  subscription_id: string;
  charge_no: number;
  customer: number;
  plan_id: string;
  sale_amount: string;
  rate: string;
  commission: string;
  reversed: string;
  status: string;
  releases_at: string;
  earned_at: string;
}

export interface Withdrawal {
  id: string;
  seller: number;
  amount: string;
  card_number: string;
  holder: string;
  status: string;
  requested_at: string;
  decided_by: string | null;
  reject_reason: string | null;
  bank_reference: string | null;
  paid_at: string | null;
}

export interface Points {
  balance: number;
  earned_total: number;
  redeemed_total: number;
  expired_total: number;
  clawed_back_total: number;
  next_expiry: string | null;
}

export interface LeaderboardEntry {
  rank: number;
  customer: number;
  username: string | null;
  earned_total: number;
  balance: number;
}

export interface DiscountCode {
  code: string;
  kind: string;
  value: string;
  max_uses: number | null;
  max_uses_per_customer: number | null;
  valid_from: string;
  valid_until: string | null;
  plans: string[];
  locations: string[];
  only_customer: number | null;
  active: boolean;
  uses: number;
  discount_total: string;
}

export interface PendingReceipt {
  payment_id: string;
  customer: number;
  username: string | null;
  amount: string;
  card_id: string | null;
  card_number: string | null;
  card_holder: string | null;
  purpose: string;
  plan_name: string | null;
  created_at: string;
  submitted_at: string | null;
  receipt_url: string;
  ocr_amount: string | null;
  ocr_card: string | null;
  ocr_tracking: string | null;
  ocr_paid_at: string | null;
  ocr_flags: string[] | null;
  ocr_flag_details: { flag: string; read?: string; payment?: string }[] | null;
  ocr_engine: string | null;
  ocr_text: string | null;
  ocr_read_at: string | null;
}

export interface Subscription {
  id: string;
  customer: number;
  plan_id: string;
  plan_name: string;
  location: string;
  status: string;
  traffic_gb: number;
  paid: string;
  refunded: string;
  pending_charge: number | null;
  last_failure: string | null;
  starts_at: string | null;
  expires_at: string | null;
  requested_at: string;
  updated_at: string;
  provisioning: string;
  provisioning_error: string | null;
  sub_url: string | null;
  links: string[];
  used_bytes: number | null;
  usage_synced_at: string | null;
}

export interface Plan {
  id: string;
  name: string;
  duration_days: number;
  traffic_gb: number;
  price: string;
  locations: string[];
  active: boolean;
  created_at: string;
}

export interface Card {
  id: string;
  number: string;
  holder: string;
  bank: string | null;
  active: boolean;
  received_count: number;
  received_total: string;
  added_at: string;
}

export interface DailyTotal {
  day: string;
  payments_approved_count: number;
  payments_approved_total: string;
  wallet_credits_total: string;
  wallet_debits_total: string;
  sales_count: number;
  sales_total: string;
  refunds_total: string;
}

export interface Overview {
  customers: number;
  blocked_customers: number;
  active_subscriptions: number;
  pending_receipts: number;
  staff_accounts: number;
  wallet_balances_total: string;
  today_sales_count: number;
  today_sales_total: string;
  today_payments_approved_total: string;
}

export interface StaffAccount {
  telegram_id: number;
  username: string | null;
  roles: string[];
  totp_enabled: boolean;
  suspended: boolean;
  suspend_reason: string | null;
  created_at: string;
  password_changed_at: string;
  live_sessions: number;
}

export interface SessionInfo {
  id: string;
  telegram_id: number;
  kind: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
  revoked_at: string | null;
  revoked_reason: string | null;
  current: boolean;
}

export interface Role {
  name: string;
  built_in: boolean;
  permissions: string[];
  holders: number;
}

export interface Roles {
  roles: Role[];
  permissions: string[];
}

export interface Panel {
  id: string;
  name: string;
  location: string;
  public_host: string;
  capacity: number;
  clients: number;
  enabled: boolean;
  healthy: boolean;
  retired: boolean;
  health_reason: string | null;
  registered_at: string;
  checked_at: string | null;
  last_check_ok: boolean | null;
  last_error: string | null;
  cpu_percent: number | null;
  mem_current: number | null;
  mem_total: number | null;
  xray_state: string | null;
  uptime_secs: number | null;
}

export interface SellerDay {
  day: string;
  sales_count: number;
  sales_total: string;
  refunds_total: string;
}

export interface TopUp {
  payment_id: string;
  amount: string;
  card_number: string;
  card_holder: string;
}

export interface PurchaseResult {
  subscription_id: string;
  status: string;
  expires_at: string | null;
  reason: string | null;
}

export interface SellerCommissions {
  summary: SellerSummary | null;
  commissions: Commission[];
}

export interface FeatureState {
  feature: string;
  enabled: boolean;
  licensed: boolean;
  active: boolean;
  needs_license: boolean;
  refusal: string | null;
}

export interface FeatureSwitched {
  feature: string;
  enabled: boolean;
  changed: boolean;
  state: FeatureState;
}

export interface LicenseView {
  state: "unlicensed" | "valid" | "grace" | "lapsed";
  licensee: string | null;
  license_id: string | null;
  issued_at: string | null;
  expires_at: string | null;
  grace_days: number | null;
  grace_ends_at: string | null;
  installed_at: string | null;
  licensed_features: string[];
  active_features: string[];
  max_panels: number;
  panels_used: number;
  problem: string | null;
  warning: string | null;
}

export interface SupportChat {
  id: string;
  customer: number;
  username: string | null;
  number: number;
  status: "queued" | "assigned" | "closed";
  agent: number | null;
  agent_username: string | null;
  opened_at: string;
  assigned_at: string | null;
  waiting_since: string | null;
  messages: number;
  closed_at: string | null;
  rating: number | null;
  last_text: string | null;
  last_at: string | null;
}

export interface SupportMessage {
  position: number;
  sender: "customer" | "agent";
  sender_id: number;
  content_type: string;
  text: string | null;
  file_name: string | null;
  at: string;
}

export interface ChatHistory {
  chat: SupportChat;
  messages: SupportMessage[];
}

export interface MyChat {
  id: string;
  number: number;
  status: "queued" | "assigned" | "closed";
  opened_at: string;
  assigned_at: string | null;
  closed_at: string | null;
  rating: number | null;
  messages: number;
}

export interface MyChatMessage {
  position: number;
  sender: "customer" | "agent";
  content_type: string;
  text: string | null;
  file_name: string | null;
  at: string;
}

export interface MyChatHistory {
  chat: MyChat | null;
  messages: MyChatMessage[];
  can_rate: boolean;
}

export interface Notification {
  source: "bot" | "reminder";
  id: number;
  /** Plain text: always rendered as text, never as markup. */
  text: string;
  photo: boolean;
  status: "sent" | "pending";
  created_at: string;
  sent_at: string | null;
}
