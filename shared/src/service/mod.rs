//! Use cases: what a handler calls once it has parsed a request. Each takes the function's
//! [`Deps`](crate::app::Deps) and returns a value to serialize or an
//! [`crate::error::AppError`].

pub mod access;
pub mod chat;
pub mod connection;
pub mod events;
pub mod lease;
pub mod reminder;
pub mod rooms;
pub mod settings;
pub mod token_cache;
