//! Billing: what each device class costs ([`prices`]), what a task is charged for ([`work`]),
//! and the insert-only ledger of what each accepted task was charged ([`ledger`]). Amounts are [`Money`](tessera_protocol::money::Money),
//! integer micro-dollars.

pub mod ledger;
pub mod prices;
pub mod work;

pub use prices::{Carry, PriceError, PriceTable, charge, charge_carried};
