//! Pure domain code: no I/O, no clocks, no environment. Everything here is unit-tested.

pub mod chat;
pub mod connection;
pub mod destination;
pub mod event;
pub mod hipchat_url;
pub mod messages;
pub mod partner;
pub mod reminder;
pub mod room_picker;
pub mod scopes;
pub mod service_hours;
pub mod settings;
pub mod signature;
pub mod token;
pub mod user;
pub mod validation;
