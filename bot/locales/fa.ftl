# MRJ Bot — کاتالوگ فارسی. هر کلید en.ftl با همان متغیرها باید اینجا باشد.

money = { $amount } تومان
traffic-unlimited = نامحدود
traffic-gb = { $gb } گیگابایت
none = —

## General
welcome-new = 👋 { $name } عزیز، خوش آمدید!
    با این ربات اشتراک V2Ray می‌خرید و مدیریت می‌کنید. زبان خود را انتخاب کنید و از منو استفاده کنید.
welcome-back = 👋 { $name } عزیز، دوباره خوش آمدید!
menu-title = <b>منوی اصلی</b>
    کیف پول: { $balance }
choose-language = 🌐 زبان خود را انتخاب کنید:
language-set = ✅ زبان ربات فارسی شد.
help-customer = <b>کارهایی که می‌توانم انجام دهم</b>
    /plans — خرید اشتراک
    /wallet — موجودی و شارژ کیف پول
    /transactions — تاریخچه کیف پول
    /subscription — اشتراک‌ها، لینک‌ها و کد QR
    /payment — پرداخت‌ها و رسیدها
    /profile — حساب کاربری و لینک دعوت
    /points — امتیازها
    /support، /chat — گفتگو با پشتیبانی
    /language — تغییر زبان
help-admin = <b>مدیریت</b>
    /admin — منو · /payments — صف رسیدها · /users — جستجو، مسدودسازی، نقش‌ها، کیف پول
    /subscriptions · /settings — پلن‌ها، قابلیت‌ها · /cards · /stats · /reports · /servers · /broadcast · /license · /withdrawals — برداشت فروشندگان
help-seller = <b>فروشنده</b>
    /seller · /sales · /commission · /withdraw · /balance · /cards · /points
error-generic = ⚠️ مشکلی در سمت ما پیش آمد. لطفاً یک دقیقه دیگر دوباره تلاش کنید.
error-blocked = ⛔ حساب شما مسدود شده است.
error-denied = ⛔ شما اجازه این کار را ندارید.
error-bad-button = ⛔ این دکمه معتبر نیست.
error-rule = ⚠️ { $detail }
error-not-found = ⚠️ پیدا نشد.
error-no-card = ⚠️ پرداخت کارت به کارت فعلاً ممکن نیست: هیچ کارت بانکی ثبت نشده است. لطفاً بعداً تلاش کنید.
error-insufficient = ⚠️ موجودی کیف پول شما { $balance } است؛ { $amount } لازم است.
unknown-command = این دستور را نمی‌شناسم. /help فهرست کارهای من را نشان می‌دهد.
unknown-text = لطفاً از منوی زیر یا /help استفاده کنید.
btn-back = » بازگشت
btn-menu = 🏠 منوی اصلی
btn-plans = 🛒 خرید اشتراک
btn-wallet = 💰 کیف پول
btn-subscriptions = 📡 اشتراک‌های من
btn-profile = 👤 حساب کاربری
btn-payments = 🧾 پرداخت‌ها
btn-help = ❓ راهنما
btn-language = 🌐 زبان
btn-admin = 🛠 مدیریت
btn-confirm = ✅ تأیید
btn-cancel = ✖️ انصراف
btn-prev = » قبلی
btn-next = بعدی «
cancelled = لغو شد.

## Plans and buying
plans-none = فعلاً هیچ پلنی برای فروش نیست.
plans-choose-location = 🌍 <b>یک لوکیشن انتخاب کنید</b>
plans-in-location = 🛒 <b>پلن‌های { $location }</b>
plan-button = { $name } · { $days } روز · { $traffic } · { $price }
plan-detail = <b>{ $name }</b>
    لوکیشن: { $location }
    مدت: { $days } روز
    ترافیک: { $traffic }
    قیمت: <b>{ $price }</b>

    کیف پول شما: { $balance }
btn-pay-wallet = 💰 پرداخت از کیف پول
btn-pay-card = 💳 پرداخت کارت به کارت
buy-confirm = خرید <b>{ $name }</b> در { $location } به مبلغ <b>{ $price }</b> از کیف پول؟
    موجودی پس از خرید: { $after }
buy-insufficient = موجودی کیف پول شما { $balance } و قیمت این پلن { $price } است. ابتدا { $missing } شارژ کنید یا کارت به کارت بپردازید.
btn-topup-missing = ➕ شارژ { $amount }
buy-processing = ⏳ در حال انجام خرید…
buy-done = ✅ <b>{ $name }</b> تا { $date } فعال است.
    لینک اتصال به محض آماده شدن همین‌جا ارسال می‌شود.
buy-failed = ❌ خرید انجام نشد: { $reason }
plan-unavailable = این پلن دیگر فروخته نمی‌شود.

## Wallet
wallet = 💰 <b>کیف پول شما</b>
    موجودی: <b>{ $balance }</b>
btn-topup = ➕ شارژ
btn-transactions = 📜 تراکنش‌ها
topup-choose = ➕ <b>شارژ کیف پول</b>
    یک مبلغ انتخاب کنید یا مبلغ را به تومان بنویسید (حداقل { $min }).
topup-invalid = لطفاً مبلغ را به تومان بفرستید، مثلاً ۲۵۰۰۰۰.
topup-too-small = حداقل مبلغ شارژ { $min } است.
card-payment = 💳 <b>پرداخت کارت به کارت</b> — { $purpose }
    دقیقاً <b>{ $amount }</b> (<code>{ $plain }</code> تومان) به این کارت واریز کنید:
    <code>{ $card }</code>
    { $holder }{ $bank }

    سپس <b>عکس رسید</b> را همین‌جا بفرستید.
receipt-received = 🧾 رسید دریافت شد. به‌زودی یک مدیر آن را بررسی می‌کند و نتیجه همین‌جا اعلام می‌شود.
receipt-unexpected = منتظر عکس نبودم. برای پرداخت، «شارژ» را در /wallet بزنید یا از /plans پلن بخرید.
receipt-decided = این پرداخت قبلاً { $status } شده است.
purpose-top-up = شارژ کیف پول
purpose-plan = { $plan } ({ $location })

## Transactions
transactions-empty = هنوز تراکنشی ندارید.
transactions-title = 📜 <b>تراکنش‌ها</b> (صفحه { $page } از { $pages })
tx-line = { $date } { $sign }{ $amount } · { $reason } ← { $balance }
tx-top_up = شارژ
tx-charge = خرید
tx-refund = بازپرداخت
tx-charge_reversal = برگشت
tx-adjustment = اصلاح
tx-other = سایر

## Subscriptions
subs-none = هنوز اشتراکی ندارید. /plans را ببینید.
subs-title = 📡 <b>اشتراک‌های شما</b>
sub-button = { $name } · { $location } · { $status }
sub-detail = 📡 <b>{ $name }</b> — { $location }
    وضعیت: { $status }
    انقضا: { $date } ({ $days } روز مانده)
    ترافیک: { $traffic }
sub-detail-pending = 📡 <b>{ $name }</b> — { $location }
    وضعیت: { $status }
sub-traffic-used = { $used } از { $total } گیگابایت مصرف شده
sub-traffic-unknown = { $total } (مصرف هنوز گزارش نشده)
sub-link = 🔗 لینک اشتراک:
    <code>{ $link }</code>
sub-link-pending = 🔗 لینک اتصال در حال آماده شدن است و به محض آماده شدن همین‌جا ارسال می‌شود.
status-pending = ⏳ در انتظار پرداخت
status-active = ✅ فعال
status-failed = ❌ پرداخت ناموفق
status-expired = ⌛ منقضی
status-cancelled = ✖️ لغو شده
btn-qr = 📷 کد QR
btn-renew = 🔄 تمدید ({ $price })
renew-confirm = تمدید <b>{ $name }</b> برای { $days } روز دیگر به مبلغ <b>{ $price }</b> از کیف پول؟
renew-done = ✅ تمدید شد: { $name } تا { $date } فعال است.
qr-caption = 📷 این کد را در برنامه V2Ray اسکن کنید.
qr-unavailable = لینک هنوز آماده نیست، پس کد QR هم وجود ندارد.

## Profile
profile = 👤 <b>حساب کاربری</b>
    شناسه: <code>{ $id }</code>
    نام کاربری: { $username }
    زبان: { $language }
    نقش‌ها: { $roles }
    کیف پول: { $balance }
    عضویت از: { $date }
    دعوت‌شدگان شما: { $referrals }

    لینک دعوت شما:
    { $link }
language-name = فارسی
roles-none = مشتری

## Payments
payments-none = هنوز پرداختی ندارید.
payments-title = 🧾 <b>پرداخت‌های شما</b>
payment-line = { $date } · { $amount } · { $purpose } · { $status }
pay-awaiting_receipt = در انتظار رسید شما
pay-awaiting_review = در حال بررسی
pay-approved = تأیید شده
pay-rejected = رد شده
pay-other = { $status }
pay-rejected-reason = دلیل رد: { $reason }
btn-send-receipt = 🧾 ارسال رسید { $amount }
receipt-send-now = اکنون عکس رسید مبلغ <b>{ $amount }</b> را بفرستید.

## Notifications
notify-approved-topup = ✅ پرداخت <b>{ $amount }</b> شما تأیید شد و به کیف پولتان اضافه شد.
notify-approved-plan = ✅ پرداخت <b>{ $amount }</b> برای { $plan } تأیید شد؛ اشتراک شما در حال فعال شدن است.
notify-rejected = ❌ پرداخت <b>{ $amount }</b> شما رد شد: { $reason }
notify-sub-active = ✅ <b>{ $plan }</b> ({ $location }) تا { $date } فعال است.
notify-sub-renewed = 🔄 <b>{ $plan }</b> تا { $date } تمدید شد.
notify-sub-traffic = ➕ ترافیک اضافه به <b>{ $plan }</b> افزوده شد: اکنون { $traffic }.
notify-link-pending = لینک اتصال به محض آماده شدن همین‌جا ارسال می‌شود.
notify-charge-failed = ❌ پرداخت <b>{ $plan }</b> ناموفق بود: { $reason }
notify-sub-ready = 🎉 اشتراک <b>{ $plan }</b> شما آماده است.
    🔗 لینک:
    <code>{ $link }</code>
notify-sub-expiring = ⏰ <b>{ $plan }</b> در تاریخ { $date } منقضی می‌شود ({ $days } روز مانده). از /subscription تمدید کنید.
notify-sub-expired = ⌛ <b>{ $plan }</b> منقضی شد. از /subscription تمدید کنید.
notify-sub-cancelled = ✖️ <b>{ $plan }</b> لغو شد: { $reason }. مبلغ بازگشتی: { $refund }.
notify-traffic = ⚠️ { $percent }٪ ترافیک <b>{ $plan }</b> را مصرف کرده‌اید.

## Admin: receipts
admin-receipt = 🧾 <b>رسید برای بررسی</b>
    مشتری: { $customer }
    مبلغ: <b>{ $amount }</b>
    کارت: <code>{ $card }</code> ({ $holder })
    بابت: { $purpose }
    ارسال: { $date }
btn-approve = ✅ تأیید
btn-reject = ❌ رد
admin-decided-approved = ✅ توسط { $by } تأیید شد.
admin-decided-rejected = ❌ توسط { $by } رد شد: { $reason }
admin-already-handled = این پرداخت قبلاً { $status } شده است.
admin-queue-empty = ✅ هیچ رسیدی در انتظار نیست.
admin-queue-title = 🧾 { $count } رسید در انتظار (قدیمی‌ترین اول).
reject-choose = دلیل رد این رسید چیست؟ انتخاب کنید یا دلیل را بنویسید.
reason-amount = مبلغ مطابقت ندارد
reason-unreadable = رسید خوانا نیست
reason-duplicate = رسید تکراری است
reason-missing = وجه دریافت نشده
approve-done = ✅ تأیید شد.
reject-done = ❌ رد شد.

## Admin: menu and users
admin-menu = 🛠 <b>مدیریت</b>
btn-admin-queue = 🧾 رسیدها ({ $count })
btn-admin-users = 👥 کاربران
btn-admin-subs = 📡 اشتراک‌ها
btn-admin-settings = ⚙️ تنظیمات
btn-admin-cards = 💳 کارت‌ها
btn-admin-stats = 📊 آمار
btn-admin-reports = 📈 گزارش‌ها
btn-admin-servers = 🖥 سرورها
btn-admin-broadcast = 📣 ارسال همگانی
btn-admin-license = 🔑 لایسنس
users-prompt = 👥 شناسه تلگرام یا @نام‌کاربری را بفرستید.
user-not-found = هیچ مشتری‌ای با { $query } پیدا نشد.
user-card = 👤 <b>{ $name }</b> (<code>{ $id }</code>)
    زبان: { $language }
    نقش‌ها: { $roles }
    کیف پول: { $balance }
    مسدود: { $blocked }
    اشتراک‌ها: { $subs }
    معرف: { $referrer }
yes = بله
no = خیر
btn-block = ⛔ مسدود کردن
btn-unblock = ✅ رفع مسدودی
btn-grant = ➕ دادن نقش
btn-revoke = ➖ گرفتن نقش
btn-adjust = 💰 اصلاح کیف پول
block-reason-prompt = دلیل مسدود کردن { $id } را بفرستید.
user-blocked-done = ⛔ { $id } مسدود شد.
user-unblocked-done = ✅ مسدودی { $id } برداشته شد.
grant-choose = نقشی را برای دادن به { $id } انتخاب کنید:
revoke-choose = نقشی را برای گرفتن از { $id } انتخاب کنید:
role-granted-done = ✅ نقش { $role } به { $id } داده شد.
role-revoked-done = ✅ نقش { $role } از { $id } گرفته شد.
adjust-amount-prompt = مبلغ افزایش (مثلاً ۵۰۰۰۰) یا کاهش (مثلاً ۵۰۰۰۰-) کیف پول { $id } را بفرستید.
adjust-amount-invalid = یک مبلغ صحیح به تومان بفرستید، مثلاً ۵۰۰۰۰ یا ۵۰۰۰۰-.
adjust-note-prompt = دلیل این اصلاح به مبلغ { $amount } را بفرستید.
adjust-done = ✅ کیف پول { $id } به اندازه { $amount } اصلاح شد.

## Admin: subscriptions, plans, cards
subs-admin = 📡 <b>اشتراک‌ها</b>
    فعال: { $active } · در انتظار: { $pending } · منقضی: { $expired } · لغو شده: { $cancelled }

    برای دیدن اشتراک‌های یک مشتری، شناسه تلگرام او را بفرستید.
subs-admin-customer = 📡 اشتراک‌های { $id }:
sub-admin-line = { $name } · { $location } · { $status } · پرداخت { $paid }
btn-cancel-refund = ✖️ لغو با بازپرداخت { $amount }
btn-cancel-norefund = ✖️ لغو بدون بازپرداخت
cancel-reason-prompt = دلیل لغو را بفرستید (بازپرداخت: { $refund }).
cancel-done = ✖️ لغو شد؛ بازپرداخت { $refund }.
settings = ⚙️ <b>پلن‌ها</b>
    برای افزودن پلن بفرستید: نام | روز | گیگ (۰ = نامحدود) | قیمت | لوکیشن، لوکیشن
plan-line = { $name } · { $days } روز · { $traffic } · { $price } · { $locations } · { $state }
plan-on-sale = در حال فروش
plan-retired = بازنشسته
btn-plan-price = 💲 { $name }
btn-plan-retire = 🗑 { $name }

## Feature toggles (/settings, manage_settings)
features-title = 🎛 <b>قابلیت‌ها</b>
feature-line = { $feature }: <b>{ $state }</b> · { $license }
feature-on = روشن
feature-off = خاموش
feature-licensed = در لایسنس
feature-not-licensed = خارج از لایسنس
feature-license-free = بی‌نیاز از لایسنس
btn-feature-on = ▶️ روشن کردن { $feature }
btn-feature-off = ⏸ خاموش کردن { $feature }
feature-switched-on = ✅ { $feature } روشن شد.
feature-switched-off = ✅ { $feature } خاموش شد.
feature-already-on = { $feature } از قبل روشن بود؛ چیزی تغییر نکرد.
feature-already-off = { $feature } از قبل خاموش بود؛ چیزی تغییر نکرد.
feature-refused = ⛔ { $feature } روشن نمی‌شود: { $reason }
plan-price-prompt = قیمت جدید { $name } را به تومان بفرستید.
plan-price-done = ✅ قیمت { $name } اکنون { $price } است.
plan-retire-done = 🗑 { $name } دیگر فروخته نمی‌شود.
plan-added = ✅ پلن { $name } افزوده شد.
plan-format-invalid = ⚠️ قالب: نام | روز | گیگ | قیمت | لوکیشن، لوکیشن — { $detail }
cards-admin = 💳 <b>کارت‌ها</b>
    برای افزودن کارت بفرستید: شماره | نام صاحب کارت | بانک
card-line = <code>{ $number }</code> · { $holder } · { $state } · { $count } پرداخت، { $total }
card-active = فعال
card-retired = غیرفعال
btn-card-retire = 🗑 { $last4 }
card-added = ✅ کارت { $number } افزوده شد.
card-retire-done = 🗑 کارت { $number } غیرفعال شد.
card-format-invalid = ⚠️ قالب: شماره | نام صاحب کارت | بانک — { $detail }

## Admin: stats, reports, servers
stats = 📊 <b>آمار</b>
    مشتریان: { $customers } (مسدود { $blocked })
    اشتراک‌های فعال: { $active }
    رسیدهای در انتظار: { $queue }
    امروز: { $payments } پرداخت تأیید شده ({ $approved })، { $sales } فروش ({ $sold })
reports-title = 📈 <b>{ $days } روز گذشته</b>
report-line = { $date }: تأیید { $approved } · فروش { $sales } ({ $count }) · بازپرداخت { $refunds }
reports-empty = در این بازه پولی جابه‌جا نشده است.
btn-days = { $days } روز
servers = 🖥 <b>سرورها</b>
servers-none = هیچ سروری ثبت نشده است.
server-line = { $name } · { $location } · { $health } · { $clients }/{ $capacity } کاربر
server-healthy = سالم
server-unhealthy = ناسالم
server-disabled = غیرفعال
servers-note = افزودن و مدیریت سرورها از داخل ربات هنوز در دسترس نیست.

## Seller
seller-menu = 🤝 <b>فروشنده</b>
    لینک شما: { $link }
    مشتریانی که آورده‌اید: { $count }
    /sales، /balance، /commission و /withdraw را ببینید.
sales = 🤝 <b>فروش از طریق لینک شما</b>
    مشتریان: { $customers }
    اشتراک‌های خریداری‌شده: { $subs }
    مجموع پرداخت: { $total }
balance = 💰 موجودی کیف پول: <b>{ $balance }</b>

## Commerce: points and commission
points-screen = ⭐ <b>امتیازها</b>
    موجودی: <b>{ $balance }</b>
    کسب‌شده: { $earned } · استفاده‌شده: { $redeemed } · منقضی: { $expired }
    انقضای بعدی: { $next }
commission-screen = 🤝 <b>پورسانت</b>
    در انتظار: { $pending }
    قابل برداشت: <b>{ $available }</b>
    پرداخت‌شده: { $paid }
    مجموع کسب‌شده: { $earned }
    فروش: { $sales } ({ $total })

## Withdrawals (sellers)
withdraw-screen = 💸 <b>برداشت وجه</b>
    قابل برداشت: <b>{ $available }</b>
    در انتظار (مهلت بازپرداخت باز است): { $pending }
    درخواست‌شده، هنوز پرداخت‌نشده: { $reserved }
    پرداخت‌شده: { $paid }
    حداقل برداشت: { $minimum }
withdraw-history = <b>درخواست‌های شما</b>
withdraw-line = { $date } · { $amount } ← { $card } · { $status }
withdraw-status-requested = در انتظار تأیید
withdraw-status-approved = تأییدشده، در حال پرداخت
withdraw-status-rejected = ردشده
withdraw-status-paid = پرداخت‌شده
withdraw-below-minimum = وقتی { $minimum } قابل برداشت شد، می‌توانید درخواست برداشت بدهید.
btn-withdraw-request = 💸 درخواست برداشت
withdraw-ask-amount = چه مبلغی می‌خواهید برداشت کنید؟ قابل برداشت: { $available } (حداقل { $minimum }). مبلغ را به تومان بنویسید.
withdraw-amount-invalid = ⚠️ این مبلغ معتبر نیست. عددی به تومان بنویسید، مثلاً ۱۵۰٬۰۰۰.
withdraw-over-available = ⚠️ { $amount } بیشتر از پورسانت قابل برداشت شما ({ $available }) است. مبلغ کمتری بنویسید.
withdraw-below-min = ⚠️ حداقل برداشت { $minimum } است. مبلغ بیشتری بنویسید.
withdraw-ask-card = { $amount } به کدام کارت واریز شود؟ <code>شماره کارت | نام صاحب کارت</code> را بفرستید یا کارتی را که قبلاً استفاده کرده‌اید انتخاب کنید.
btn-withdraw-card = 💳 { $card } · { $holder }
withdraw-card-invalid = ⚠️ کارت را به شکل <code>شماره کارت | نام صاحب کارت</code> با شماره کارت ۱۶ رقمی معتبر بفرستید.
withdraw-confirm = برداشت <b>{ $amount }</b> به کارت { $card } ({ $holder })؟
withdraw-press-confirm = دکمهٔ ✅ تأیید را در بالا بزنید، یا /cancel.
withdraw-expired = ⚠️ این تأیید دیگر معتبر نیست. دوباره با /withdraw شروع کنید.
withdraw-already = این برداشت قبلاً درخواست شده است.
withdraw-requested = ✅ درخواست برداشت ثبت شد: { $amount } به { $card }. پس از تأیید مدیر پرداخت می‌شود.
btn-withdraw-back = 💸 برداشت وجه
payout-cards = 💳 <b>کارت‌های تسویه</b>
    برداشت‌ها به کارتی واریز می‌شوند که در هر درخواست اعلام می‌کنید (/withdraw). کارت‌هایی که استفاده کرده‌اید:
payout-cards-none = 💳 <b>کارت‌های تسویه</b>
    برداشت‌ها به کارتی واریز می‌شوند که در هر درخواست اعلام می‌کنید. هنوز درخواست برداشتی نداده‌اید: /withdraw.
payout-card-line = { $card } · { $holder } — { $count } درخواست، { $paid } پرداخت‌شده

## Withdrawals (staff)
btn-admin-withdrawals = 💸 برداشت‌ها ({ $count })
btn-withdrawals = 💸 برداشت‌ها
withdrawals-empty = هیچ برداشتی در انتظار نیست.
withdrawals-title = 💸 <b>برداشت‌های در انتظار: { $count }</b>
withdrawal-item = 💸 <b>برداشت</b>
    فروشنده: { $seller }
    مبلغ: <b>{ $amount }</b>
    کارت: <code>{ $card }</code>
    صاحب کارت: { $holder }
    تاریخ درخواست: { $date }
    وضعیت: { $status }
btn-withdrawal-paid = 💳 ثبت پرداخت
withdrawal-already-handled = این برداشت قبلاً رسیدگی شده است: { $status }.
withdrawal-approved = ✅ توسط { $by } تأیید شد: { $amount } برای { $seller } به <code>{ $card }</code>. مبلغ را واریز کنید و سپس «ثبت پرداخت» را بزنید.
withdrawal-not-approved = ⚠️ پیش از ثبت پرداخت، این برداشت را تأیید کنید.
withdrawal-ask-reference = شمارهٔ پیگیری بانکی واریز { $amount } به <code>{ $card }</code> را بفرستید.
withdrawal-reference-required = ⚠️ شمارهٔ پیگیری بانکی لازم است.
withdrawal-paid = ✅ پرداخت شد: { $amount } به <code>{ $card }</code>، شمارهٔ پیگیری { $reference }، ثبت توسط { $by }.
withdrawal-ask-reason = دلیل رد این برداشت چیست؟ دلیل را بنویسید (فروشنده آن را می‌خواند).
withdrawal-rejected = ❌ توسط { $by } رد شد: { $reason }. مبلغ دوباره برای فروشنده قابل برداشت است.

## License (read-only)
license-screen = 🔑 <b>لایسنس</b>
    { $state }
    امکانات دارای مجوز: { $features }
    پنل‌ها: { $panels } از { $max }
license-unlicensed = لایسنسی نصب نشده است: فروش پایه، امتیازها و یک پنل.
license-valid = معتبر، به نام <b>{ $licensee }</b> تا { $expires }.
license-grace = به نام <b>{ $licensee }</b>؛ در { $expired } منقضی شده، مهلت ارفاق تا { $until }.
license-lapsed = به نام <b>{ $licensee }</b>؛ در { $expired } منقضی شده و مهلت ارفاق در { $until } تمام شده است: امکانات دارای مجوز خاموش‌اند.
license-details = لایسنس <code>{ $id }</code>: صدور { $issued }، انقضا { $expires }، ارفاق { $grace } روز، نصب { $installed }.
license-note = ⚠️ { $note }
license-install-hint = لایسنس از خط فرمان نصب می‌شود: <code>mrjbot license install</code>.
license-feature-backups = پشتیبان‌گیری زمان‌بندی‌شده
license-feature-chat = گفتگوی زنده
license-feature-ai = پاسخ هوش مصنوعی
license-feature-points = امتیاز وفاداری
license-feature-broadcasts = ارسال همگانی

## Points redemption
btn-points = ⭐ امتیازها
btn-points-redeem = 🎁 استفاده از امتیاز
redeem-menu = 🎁 <b>استفاده از امتیاز</b>
    { $balance } امتیاز دارید. یک جایزه انتخاب کنید:
redeem-none = 🎁 { $balance } امتیاز دارید: هنوز برای هیچ جایزه‌ای کافی نیست.
btn-reward = { $reward } — { $points } امتیاز
reward-discount = کد تخفیف به ارزش { $value }
reward-vip = عضویت VIP
reward-days = { $days } روز اضافه روی { $plan }
reward-traffic = { $gb } گیگابایت اضافه روی { $plan }
redeem-confirm = <b>{ $points }</b> امتیاز برای { $reward } خرج شود؟
    امتیاز باقی‌مانده: { $after }
redeem-insufficient = ⚠️ { $balance } امتیاز دارید؛ { $points } امتیاز لازم است.
redeem-already = این جایزه قبلاً دریافت شده است.
redeem-done = ✅ { $points } امتیاز استفاده شد: { $reward }.
redeem-code = کد تخفیف شما: <code>{ $code }</code> (یک‌بار مصرف، تا ۹۰ روز).

## Withdrawals (notifications to the seller)
notify-withdrawal-approved = ✅ برداشت { $amount } شما تأیید شد و به‌زودی پرداخت می‌شود.
notify-withdrawal-rejected = ❌ برداشت { $amount } شما رد شد: { $reason }. مبلغ دوباره قابل برداشت است (/withdraw).
notify-withdrawal-paid = 💸 برداشت { $amount } شما به { $card } واریز شد. شمارهٔ پیگیری بانکی: { $reference }.
notify-withdrawal-requested = 💸 <b>درخواست برداشت تازه</b>
    فروشنده: { $seller }
    مبلغ: <b>{ $amount }</b>
    کارت: <code>{ $card }</code>
    صاحب کارت: { $holder }
    تاریخ درخواست: { $date }
admin-withdrawal-approved = ✅ توسط { $by } تأیید شد. مبلغ را واریز کنید و سپس «ثبت پرداخت» را بزنید.
admin-withdrawal-rejected = ❌ توسط { $by } رد شد: { $reason }
admin-withdrawal-paid = 💸 پرداخت شد؛ ثبت توسط { $by }، شمارهٔ پیگیری بانکی { $reference }.
