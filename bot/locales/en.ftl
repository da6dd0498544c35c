# MRJ Bot — English catalog. Every key here must exist in fa.ftl with the
# same variables (bot/tests/catalog.rs checks it).

money = { $amount } Toman
traffic-unlimited = unlimited
traffic-gb = { $gb } GB
none = —

## General
welcome-new = 👋 Welcome, { $name }!
    With this bot you buy and manage V2Ray subscriptions. Choose your language, then pick from the menu.
welcome-back = 👋 Welcome back, { $name }!
menu-title = <b>Main menu</b>
    Wallet: { $balance }
choose-language = 🌐 Choose your language:
language-set = ✅ Language set to English.
help-customer = <b>What I can do</b>
    /plans — buy a subscription
    /wallet — balance and top-up
    /transactions — wallet history
    /subscription — your subscriptions, links and QR codes
    /payment — your payments and receipts
    /profile — your account and invitation link
    /points — loyalty points
    /support, /chat — talk to support
    /language — change language
help-admin = <b>Admin</b>
    /admin — menu · /payments — receipt queue · /users — find, block, roles, wallet
    /subscriptions · /settings — plans, features · /cards · /stats · /reports · /servers · /broadcast · /license · /withdrawals — seller withdrawals
help-seller = <b>Seller</b>
    /seller · /sales · /commission · /withdraw · /balance · /cards · /points
error-generic = ⚠️ Something went wrong on our side. Please try again in a minute.
error-blocked = ⛔ Your account is blocked.
error-denied = ⛔ You do not have permission for this.
error-bad-button = ⛔ This button is not valid.
error-rule = ⚠️ { $detail }
error-not-found = ⚠️ Not found.
error-no-card = ⚠️ Card-to-card payment is not possible right now: no bank card is set up. Please try again later.
error-insufficient = ⚠️ Your wallet has { $balance }; { $amount } is needed.
unknown-command = I don't know that command. /help lists what I can do.
unknown-text = Please use the menu below or /help.
btn-back = « Back
btn-menu = 🏠 Main menu
btn-plans = 🛒 Buy a plan
btn-wallet = 💰 Wallet
btn-subscriptions = 📡 My subscriptions
btn-profile = 👤 Profile
btn-payments = 🧾 Payments
btn-help = ❓ Help
btn-language = 🌐 Language
btn-admin = 🛠 Admin
btn-confirm = ✅ Confirm
btn-cancel = ✖️ Cancel
btn-prev = « Previous
btn-next = Next »
cancelled = Cancelled.

## Plans and buying
plans-none = No plans are on sale right now.
plans-choose-location = 🌍 <b>Choose a location</b>
plans-in-location = 🛒 <b>Plans in { $location }</b>
plan-button = { $name } · { $days } days · { $traffic } · { $price }
plan-detail = <b>{ $name }</b>
    Location: { $location }
    Duration: { $days } days
    Traffic: { $traffic }
    Price: <b>{ $price }</b>

    Your wallet: { $balance }
btn-pay-wallet = 💰 Pay from wallet
btn-pay-card = 💳 Pay by card-to-card
buy-confirm = Buy <b>{ $name }</b> in { $location } for <b>{ $price }</b> from your wallet?
    Balance after: { $after }
buy-insufficient = Your wallet has { $balance }; this plan costs { $price }. Top up { $missing } first, or pay by card-to-card.
btn-topup-missing = ➕ Top up { $amount }
buy-processing = ⏳ Processing your purchase…
buy-done = ✅ <b>{ $name }</b> is active until { $date }.
    The connection link will be sent here as soon as it is ready.
buy-failed = ❌ The purchase failed: { $reason }
plan-unavailable = This plan is no longer on sale.

## Wallet
wallet = 💰 <b>Your wallet</b>
    Balance: <b>{ $balance }</b>
btn-topup = ➕ Top up
btn-transactions = 📜 Transactions
topup-choose = ➕ <b>Top up</b>
    Choose an amount, or type one in Toman (at least { $min }).
topup-invalid = Please send an amount in Toman, for example 250000.
topup-too-small = The smallest top-up is { $min }.
card-payment = 💳 <b>Card-to-card payment</b> — { $purpose }
    Transfer exactly <b>{ $amount }</b> (<code>{ $plain }</code> Toman) to:
    <code>{ $card }</code>
    { $holder }{ $bank }

    Then send a <b>photo of the receipt</b> here.
receipt-received = 🧾 Receipt received. An admin will review it soon; you will get a message here.
receipt-unexpected = I was not expecting a photo. To pay, choose Top up in /wallet or buy a plan in /plans.
receipt-decided = This payment was already { $status }.
purpose-top-up = wallet top-up
purpose-plan = { $plan } ({ $location })

## Transactions
transactions-empty = No wallet transactions yet.
transactions-title = 📜 <b>Transactions</b> (page { $page } of { $pages })
tx-line = { $date } { $sign }{ $amount } · { $reason } → { $balance }
tx-top_up = top-up
tx-charge = purchase
tx-refund = refund
tx-charge_reversal = reversal
tx-adjustment = adjustment
tx-other = other

## Subscriptions
subs-none = You have no subscriptions yet. See /plans.
subs-title = 📡 <b>Your subscriptions</b>
sub-button = { $name } · { $location } · { $status }
sub-detail = 📡 <b>{ $name }</b> — { $location }
    Status: { $status }
    Expires: { $date } ({ $days } days left)
    Traffic: { $traffic }
sub-detail-pending = 📡 <b>{ $name }</b> — { $location }
    Status: { $status }
sub-traffic-used = { $used } GB of { $total } used
sub-traffic-unknown = { $total } (usage not reported yet)
sub-link = 🔗 Subscription link:
    <code>{ $link }</code>
sub-link-pending = 🔗 The connection link is being prepared; it will be sent here as soon as it is ready.
status-pending = ⏳ pending payment
status-active = ✅ active
status-failed = ❌ payment failed
status-expired = ⌛ expired
status-cancelled = ✖️ cancelled
btn-qr = 📷 QR code
btn-renew = 🔄 Renew ({ $price })
renew-confirm = Renew <b>{ $name }</b> for another { $days } days at <b>{ $price }</b> from your wallet?
renew-done = ✅ Renewed: { $name } is active until { $date }.
qr-caption = 📷 Scan this code in your V2Ray app.
qr-unavailable = The link is not ready yet, so there is no QR code to show.

## Profile
profile = 👤 <b>Profile</b>
    ID: <code>{ $id }</code>
    Username: { $username }
    Language: { $language }
    Roles: { $roles }
    Wallet: { $balance }
    Member since: { $date }
    People you invited: { $referrals }

    Your invitation link:
    { $link }
language-name = English
roles-none = customer

## Payments
payments-none = You have no payments yet.
payments-title = 🧾 <b>Your payments</b>
payment-line = { $date } · { $amount } · { $purpose } · { $status }
pay-awaiting_receipt = waiting for your receipt
pay-awaiting_review = under review
pay-approved = approved
pay-rejected = rejected
pay-other = { $status }
pay-rejected-reason = Rejected: { $reason }
btn-send-receipt = 🧾 Send receipt for { $amount }
receipt-send-now = Send the receipt photo for <b>{ $amount }</b> now.

## Notifications
notify-approved-topup = ✅ Your payment of <b>{ $amount }</b> was approved and added to your wallet.
notify-approved-plan = ✅ Your payment of <b>{ $amount }</b> for { $plan } was approved; your subscription is being activated.
notify-rejected = ❌ Your payment of <b>{ $amount }</b> was rejected: { $reason }
notify-sub-active = ✅ <b>{ $plan }</b> ({ $location }) is active until { $date }.
notify-sub-renewed = 🔄 <b>{ $plan }</b> was renewed until { $date }.
notify-sub-traffic = ➕ Extra traffic was added to <b>{ $plan }</b>: now { $traffic }.
notify-link-pending = The connection link will be sent here as soon as it is ready.
notify-charge-failed = ❌ Payment for <b>{ $plan }</b> failed: { $reason }
notify-sub-ready = 🎉 Your subscription <b>{ $plan }</b> is ready.
    🔗 Link:
    <code>{ $link }</code>
notify-sub-expiring = ⏰ <b>{ $plan }</b> expires on { $date } ({ $days } days left). Renew it in /subscription.
notify-sub-expired = ⌛ <b>{ $plan }</b> has expired. Renew it in /subscription.
notify-sub-cancelled = ✖️ <b>{ $plan }</b> was cancelled: { $reason }. Refund: { $refund }.
notify-traffic = ⚠️ You have used { $percent }% of the traffic of <b>{ $plan }</b>.

## Admin: receipts
admin-receipt = 🧾 <b>Receipt to review</b>
    Customer: { $customer }
    Amount: <b>{ $amount }</b>
    Card: <code>{ $card }</code> ({ $holder })
    For: { $purpose }
    Submitted: { $date }
btn-approve = ✅ Approve
btn-reject = ❌ Reject
admin-decided-approved = ✅ Approved by { $by }.
admin-decided-rejected = ❌ Rejected by { $by }: { $reason }
admin-already-handled = This payment was already { $status }.
admin-queue-empty = ✅ No receipts are waiting.
admin-queue-title = 🧾 { $count } receipts waiting (oldest first).
reject-choose = Why is this receipt rejected? Choose, or type the reason.
reason-amount = Amount does not match
reason-unreadable = Receipt unreadable
reason-duplicate = Duplicate receipt
reason-missing = Money not received
approve-done = ✅ Approved.
reject-done = ❌ Rejected.

## Admin: menu and users
admin-menu = 🛠 <b>Admin</b>
btn-admin-queue = 🧾 Receipts ({ $count })
btn-admin-users = 👥 Users
btn-admin-subs = 📡 Subscriptions
btn-admin-settings = ⚙️ Settings
btn-admin-cards = 💳 Cards
btn-admin-stats = 📊 Stats
btn-admin-reports = 📈 Reports
btn-admin-servers = 🖥 Servers
btn-admin-broadcast = 📣 Broadcast
btn-admin-license = 🔑 License
users-prompt = 👥 Send a Telegram id or @username.
user-not-found = No customer matches { $query }.
user-card = 👤 <b>{ $name }</b> (<code>{ $id }</code>)
    Language: { $language }
    Roles: { $roles }
    Wallet: { $balance }
    Blocked: { $blocked }
    Subscriptions: { $subs }
    Invited by: { $referrer }
yes = yes
no = no
btn-block = ⛔ Block
btn-unblock = ✅ Unblock
btn-grant = ➕ Grant role
btn-revoke = ➖ Revoke role
btn-adjust = 💰 Adjust wallet
block-reason-prompt = Send the reason for blocking { $id }.
user-blocked-done = ⛔ { $id } is blocked.
user-unblocked-done = ✅ { $id } is unblocked.
grant-choose = Choose a role to grant to { $id }:
revoke-choose = Choose a role to revoke from { $id }:
role-granted-done = ✅ { $role } granted to { $id }.
role-revoked-done = ✅ { $role } revoked from { $id }.
adjust-amount-prompt = Send the amount to add (for example 50000) or to take (for example -50000) for { $id }.
adjust-amount-invalid = Send a whole amount in Toman, such as 50000 or -50000.
adjust-note-prompt = Send the reason for this adjustment of { $amount }.
adjust-done = ✅ Wallet of { $id } adjusted by { $amount }.

## Admin: subscriptions, plans, cards
subs-admin = 📡 <b>Subscriptions</b>
    Active: { $active } · Pending: { $pending } · Expired: { $expired } · Cancelled: { $cancelled }

    Send a customer's Telegram id to see theirs.
subs-admin-customer = 📡 Subscriptions of { $id }:
sub-admin-line = { $name } · { $location } · { $status } · paid { $paid }
btn-cancel-refund = ✖️ Cancel, refund { $amount }
btn-cancel-norefund = ✖️ Cancel, no refund
cancel-reason-prompt = Send the reason for cancelling (refund: { $refund }).
cancel-done = ✖️ Cancelled; refund { $refund }.
settings = ⚙️ <b>Plans</b>
    To add a plan, send: name | days | GB (0 = unlimited) | price | location, location
plan-line = { $name } · { $days } days · { $traffic } · { $price } · { $locations } · { $state }
plan-on-sale = on sale
plan-retired = retired
btn-plan-price = 💲 { $name }
btn-plan-retire = 🗑 { $name }

## Feature toggles (/settings, manage_settings)
features-title = 🎛 <b>Features</b>
feature-line = { $feature }: <b>{ $state }</b> · { $license }
feature-on = on
feature-off = off
feature-licensed = licensed
feature-not-licensed = not licensed
feature-license-free = no license needed
btn-feature-on = ▶️ Turn on { $feature }
btn-feature-off = ⏸ Turn off { $feature }
feature-switched-on = ✅ { $feature } is on.
feature-switched-off = ✅ { $feature } is off.
feature-already-on = { $feature } was already on; nothing changed.
feature-already-off = { $feature } was already off; nothing changed.
feature-refused = ⛔ { $feature } cannot be turned on: { $reason }
plan-price-prompt = Send the new price of { $name } in Toman.
plan-price-done = ✅ { $name } now costs { $price }.
plan-retire-done = 🗑 { $name } is no longer on sale.
plan-added = ✅ Plan { $name } added.
plan-format-invalid = ⚠️ Use: name | days | GB | price | location, location — { $detail }
cards-admin = 💳 <b>Cards</b>
    To add a card, send: number | holder | bank
card-line = <code>{ $number }</code> · { $holder } · { $state } · { $count } payments, { $total }
card-active = active
card-retired = retired
btn-card-retire = 🗑 { $last4 }
card-added = ✅ Card { $number } added.
card-retire-done = 🗑 Card { $number } retired.
card-format-invalid = ⚠️ Use: number | holder | bank — { $detail }

## Admin: stats, reports, servers
stats = 📊 <b>Stats</b>
    Customers: { $customers } (blocked { $blocked })
    Active subscriptions: { $active }
    Receipts waiting: { $queue }
    Today: { $payments } payments approved ({ $approved }), { $sales } sales ({ $sold })
reports-title = 📈 <b>Last { $days } days</b>
report-line = { $date }: approved { $approved } · sales { $sales } ({ $count }) · refunds { $refunds }
reports-empty = No money moved in this period.
btn-days = { $days } days
servers = 🖥 <b>Servers</b>
servers-none = No servers are registered.
server-line = { $name } · { $location } · { $health } · { $clients }/{ $capacity } clients
server-healthy = healthy
server-unhealthy = unhealthy
server-disabled = disabled
servers-note = Adding and managing servers from the bot is not available yet.

## Seller
seller-menu = 🤝 <b>Seller</b>
    Your link: { $link }
    Customers you brought: { $count }
    See /sales, /balance, /commission, /withdraw.
sales = 🤝 <b>Sales through your link</b>
    Customers: { $customers }
    Subscriptions they bought: { $subs }
    Total paid: { $total }
balance = 💰 Wallet balance: <b>{ $balance }</b>

## Commerce: points and commission
points-screen = ⭐ <b>Points</b>
    Balance: <b>{ $balance }</b>
    Earned: { $earned } · Redeemed: { $redeemed } · Expired: { $expired }
    Next expiry: { $next }
commission-screen = 🤝 <b>Commission</b>
    Pending: { $pending }
    Available: <b>{ $available }</b>
    Paid out: { $paid }
    Earned in total: { $earned }
    Sales: { $sales } ({ $total })

## Withdrawals (sellers)
withdraw-screen = 💸 <b>Withdrawals</b>
    Available: <b>{ $available }</b>
    Pending (refund window still open): { $pending }
    Asked for, not yet paid: { $reserved }
    Paid out: { $paid }
    Smallest withdrawal: { $minimum }
withdraw-history = <b>Your requests</b>
withdraw-line = { $date } · { $amount } → { $card } · { $status }
withdraw-status-requested = waiting for approval
withdraw-status-approved = approved, being paid
withdraw-status-rejected = rejected
withdraw-status-paid = paid
withdraw-below-minimum = You can ask for a withdrawal once { $minimum } is available.
btn-withdraw-request = 💸 Request a withdrawal
withdraw-ask-amount = How much would you like to withdraw? Available: { $available } (at least { $minimum }). Type the amount in Toman.
withdraw-amount-invalid = ⚠️ That is not an amount. Type a number of Toman, for example 150,000.
withdraw-over-available = ⚠️ { $amount } is more than your available commission ({ $available }). Type a smaller amount.
withdraw-below-min = ⚠️ The smallest withdrawal is { $minimum }. Type a larger amount.
withdraw-ask-card = Which card should receive { $amount }? Send <code>card number | holder's name</code>, or choose a card you used before.
btn-withdraw-card = 💳 { $card } · { $holder }
withdraw-card-invalid = ⚠️ Send the card as <code>card number | holder's name</code>, with a valid 16-digit card number.
withdraw-confirm = Withdraw <b>{ $amount }</b> to card { $card } ({ $holder })?
withdraw-press-confirm = Press ✅ Confirm above, or /cancel.
withdraw-expired = ⚠️ This confirmation is no longer valid. Start again with /withdraw.
withdraw-already = This withdrawal was already requested.
withdraw-requested = ✅ Withdrawal requested: { $amount } to { $card }. It will be paid after an admin approves it.
btn-withdraw-back = 💸 Withdrawals
payout-cards = 💳 <b>Payout cards</b>
    Withdrawals are paid to the card you name in each request (/withdraw). Cards you have used:
payout-cards-none = 💳 <b>Payout cards</b>
    Withdrawals are paid to the card you name in each request. You have not asked for a withdrawal yet: /withdraw.
payout-card-line = { $card } · { $holder } — { $count } request(s), { $paid } paid

## Withdrawals (staff)
btn-admin-withdrawals = 💸 Withdrawals ({ $count })
btn-withdrawals = 💸 Withdrawals
withdrawals-empty = No withdrawals are waiting.
withdrawals-title = 💸 <b>Withdrawals waiting: { $count }</b>
withdrawal-item = 💸 <b>Withdrawal</b>
    Seller: { $seller }
    Amount: <b>{ $amount }</b>
    Card: <code>{ $card }</code>
    Holder: { $holder }
    Asked: { $date }
    Status: { $status }
btn-withdrawal-paid = 💳 Mark paid
withdrawal-already-handled = This withdrawal was already handled: { $status }.
withdrawal-approved = ✅ Approved by { $by }: { $amount } for { $seller } to <code>{ $card }</code>. Transfer the money, then press “Mark paid”.
withdrawal-not-approved = ⚠️ Approve this withdrawal before marking it paid.
withdrawal-ask-reference = Send the bank's tracking number of the transfer of { $amount } to <code>{ $card }</code>.
withdrawal-reference-required = ⚠️ The bank's tracking number is required.
withdrawal-paid = ✅ Paid: { $amount } to <code>{ $card }</code>, reference { $reference }, recorded by { $by }.
withdrawal-ask-reason = Why is this withdrawal rejected? Type the reason (the seller reads it).
withdrawal-rejected = ❌ Rejected by { $by }: { $reason }. The money is available to the seller again.

## License (read-only)
license-screen = 🔑 <b>License</b>
    { $state }
    Licensed features: { $features }
    Panels: { $panels } of { $max }
license-unlicensed = No license is installed: core selling, points and one panel.
license-valid = Valid, licensed to <b>{ $licensee }</b> until { $expires }.
license-grace = Licensed to <b>{ $licensee }</b>; expired on { $expired }, grace period until { $until }.
license-lapsed = Licensed to <b>{ $licensee }</b>; expired on { $expired }, grace period ended on { $until }: licensed features are off.
license-details = License <code>{ $id }</code>: issued { $issued }, expires { $expires }, grace { $grace } days, installed { $installed }.
license-note = ⚠️ { $note }
license-install-hint = A license is installed from the command line: <code>mrjbot license install</code>.
license-feature-backups = scheduled backups
license-feature-chat = live chat
license-feature-ai = AI answers
license-feature-points = loyalty points
license-feature-broadcasts = broadcasts

## Points redemption
btn-points = ⭐ Points
btn-points-redeem = 🎁 Redeem points
redeem-menu = 🎁 <b>Redeem points</b>
    You have { $balance } points. Choose a reward:
redeem-none = 🎁 You have { $balance } points: not enough for any reward yet.
btn-reward = { $reward } — { $points } points
reward-discount = discount code worth { $value }
reward-vip = VIP membership
reward-days = { $days } extra days on { $plan }
reward-traffic = { $gb } extra GB on { $plan }
redeem-confirm = Spend <b>{ $points }</b> points on { $reward }?
    Points left after: { $after }
redeem-insufficient = ⚠️ You have { $balance } points; { $points } are needed.
redeem-already = This reward was already redeemed.
redeem-done = ✅ Redeemed { $points } points: { $reward }.
redeem-code = Your discount code: <code>{ $code }</code> (one use, for 90 days).

## Withdrawals (notifications to the seller)
notify-withdrawal-approved = ✅ Your withdrawal of { $amount } was approved; it will be paid soon.
notify-withdrawal-rejected = ❌ Your withdrawal of { $amount } was rejected: { $reason }. The money is available again (/withdraw).
notify-withdrawal-paid = 💸 Your withdrawal of { $amount } was paid to { $card }. Bank reference: { $reference }.
notify-withdrawal-requested = 💸 <b>New withdrawal request</b>
    Seller: { $seller }
    Amount: <b>{ $amount }</b>
    Card: <code>{ $card }</code>
    Holder: { $holder }
    Asked: { $date }
admin-withdrawal-approved = ✅ Approved by { $by }. Transfer the money, then press “Mark paid”.
admin-withdrawal-rejected = ❌ Rejected by { $by }: { $reason }
admin-withdrawal-paid = 💸 Paid, recorded by { $by }; bank reference { $reference }.
