//! Read models of the payment gateways and of receipt OCR: copied from the
//! Payment and PaymentReference events, nothing computed.
use async_trait::async_trait;
use domain::payment::{PaymentEvent, PaymentMethod};
use domain::reference::ReferenceEvent;
use domain::AnyEvent;
use eventstore::StoredEvent;
use sqlx::PgConnection;

use crate::models::id;
use crate::Projector;

/// `gateway_payments`: Zarinpal and USDT payments with their evidence.
pub struct GatewayPayments;

#[async_trait]
impl Projector for GatewayPayments {
    fn name(&self) -> &'static str {
        "gateway_payments"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Payment(event) = decoded else { return Ok(()) };
        let update = |set: &str| format!("UPDATE {t} SET {set} WHERE payment_id = $1");
        match event {
            PaymentEvent::PaymentCreated {
                id,
                customer,
                amount,
                method,
                at,
                ..
            } if method.is_gateway() => {
                let deposit = match method {
                    PaymentMethod::UsdtTrc20 { deposit } => Some(deposit),
                    _ => None,
                };
                sqlx::query(&format!(
                    "INSERT INTO {t} (payment_id, customer, method, amount, status, usdt_address, usdt_contract, usdt_amount, \
                     usdt_rate, confirmations, expires_at, created_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10, $11)"
                ))
                .bind(id)
                .bind(customer.0)
                .bind(method.name())
                .bind(amount.value())
                .bind(deposit.map(|d| d.address.clone()))
                .bind(deposit.map(|d| d.contract.clone()))
                .bind(deposit.map(|d| d.usdt))
                .bind(deposit.map(|d| d.rate))
                .bind(deposit.map(|d| d.confirmations as i32))
                .bind(deposit.map(|d| d.expires_at))
                .bind(at)
                .execute(conn)
                .await?;
            }
            PaymentEvent::ZarinpalAuthorityIssued { authority, .. } => {
                sqlx::query(&update("authority = $2"))
                    .bind(id(e)?)
                    .bind(authority)
                    .execute(conn)
                    .await?;
            }
            PaymentEvent::ZarinpalVerified { ref_id, card_pan, .. } => {
                sqlx::query(&update("ref_id = $2, card_pan = $3"))
                    .bind(id(e)?)
                    .bind(ref_id.to_string())
                    .bind(card_pan)
                    .execute(conn)
                    .await?;
            }
            PaymentEvent::TronTransferConfirmed { transfer, .. } => {
                sqlx::query(&update("tx_hash = $2, tx_from = $3, tx_block = $4"))
                    .bind(id(e)?)
                    .bind(&transfer.tx_hash)
                    .bind(&transfer.from)
                    .bind(transfer.block as i64)
                    .execute(conn)
                    .await?;
            }
            PaymentEvent::GatewayAttemptRefused { .. } => {
                sqlx::query(&update("refusals = refusals + 1")).bind(id(e)?).execute(conn).await?;
            }
            PaymentEvent::PaymentApproved { at, .. } => {
                sqlx::query(&update("status = 'approved', decided_at = $2"))
                    .bind(id(e)?)
                    .bind(at)
                    .execute(conn)
                    .await?;
            }
            PaymentEvent::GatewayPaymentFailed { reason, at, .. } => {
                sqlx::query(&update("status = 'failed', failure = $2, decided_at = $3"))
                    .bind(id(e)?)
                    .bind(reason)
                    .bind(at)
                    .execute(conn)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// `gateway_incidents`: every refused attempt, with or without a payment.
pub struct GatewayIncidents;

#[async_trait]
impl Projector for GatewayIncidents {
    fn name(&self) -> &'static str {
        "gateway_incidents"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let (payment, reference, reason, detail, at) = match decoded {
            AnyEvent::Payment(PaymentEvent::GatewayAttemptRefused {
                reason,
                reference,
                detail,
                at,
                ..
            }) => (Some(id(e)?), reference, reason, detail, at),
            AnyEvent::PaymentReference(ReferenceEvent::UnmatchedReferenceSeen {
                reference,
                reason,
                detail,
                at,
            }) => (None, reference, reason, detail, at),
            _ => return Ok(()),
        };
        sqlx::query(&format!(
            "INSERT INTO {t} (position, payment_id, reference, reason, detail, at) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(e.position)
        .bind(payment)
        .bind(reference)
        .bind(reason.name())
        .bind(detail)
        .bind(at)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// `receipt_readings`: what OCR read on each payment's current receipt.
pub struct ReceiptReadings;

#[async_trait]
impl Projector for ReceiptReadings {
    fn name(&self) -> &'static str {
        "receipt_readings"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Payment(PaymentEvent::ReceiptRead {
            file, reading, flags, at, ..
        }) = decoded
        else {
            return Ok(());
        };
        let names: Vec<&str> = flags.iter().map(|f| f.name()).collect();
        let details = serde_json::to_value(flags).map_err(|x| sqlx::Error::Decode(Box::new(x)))?;
        sqlx::query(&format!(
            "INSERT INTO {t} (payment_id, file, amount, card, tracking, paid_at, flags, flag_details, engine, text, read_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (payment_id) DO UPDATE SET file = $2, amount = $3, card = $4, tracking = $5, paid_at = $6, \
             flags = $7, flag_details = $8, engine = $9, text = $10, read_at = $11"
        ))
        .bind(id(e)?)
        .bind(file)
        .bind(reading.amount.map(|a| a.value()))
        .bind(&reading.card)
        .bind(&reading.tracking)
        .bind(reading.paid_at)
        .bind(names)
        .bind(details)
        .bind(&reading.engine)
        .bind(&reading.text)
        .bind(at)
        .execute(conn)
        .await?;
        Ok(())
    }
}
