//! Use cases: what a handler calls once it has parsed a request. Each takes its ports by
//! reference and returns a value to serialize or an [`crate::error::AppError`].

pub mod chat;
pub mod connection;
pub mod events;
pub mod hipchat;
pub mod reminder;
pub mod rooms;
pub mod settings;
pub mod token_cache;
pub mod wait;
