//! The HTTP API end to end: real PostgreSQL, projectors and the process
//! manager running, a fake Telegram Bot API, requests over TCP.
mod common;

mod access;
mod auth;
mod chat;
mod flow;
mod my_chat;
mod ocr;
mod openapi;
mod settings;
