//! HipChat REST API v2 simulator.
//!
//! HipChat shut down in 2019; this crate stands in for it in tests and in the local stack. It follows
//! docs/hipchat-api.md (the API as it really behaved): bearer tokens with scopes and a
//! one-year life, the error shape, room name rules, guest access URLs, notifications and messages,
//! rate-limit and flood-control headers and 429s. A `/_sim/` control API (and the [`Simulator`]
//! methods it mirrors) seeds tokens and rooms, injects faults and reads what was posted.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hipchat_sim::{SimConfig, TokenSpec, RoomSpec};
//! let running = hipchat_sim::start(SimConfig::default()).await?;
//! let token = running.sim().create_token(TokenSpec::default());
//! let room = running.sim().add_room(RoomSpec { name: "Ops".into(), ..Default::default() });
//! // POST {base_url}/v2/room/{room}/notification with `Authorization: Bearer {token}` ...
//! # let _ = (token, room);
//! # Ok(()) }
//! ```

mod control;
mod guest;
mod model;
mod server;
mod state;
mod v2;
mod validate;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;

pub use model::{
    ALL_SCOPES, CounterRow, Counters, Fault, FaultAction, KNOWN_SCOPES, Limits, Message, Notification, OwnerSpec,
    RoomSnapshot, RoomSpec, SimConfig, TokenKind, TokenSpec, endpoints,
};
pub use state::Simulator;

/// A simulator serving on a loopback port. Dropping it stops the server and closes its connections.
pub struct RunningSim {
    addr: SocketAddr,
    base_url: String,
    sim: Simulator,
    task: tokio::task::JoinHandle<()>,
}

impl RunningSim {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The simulator behind the server (shares its state).
    pub fn sim(&self) -> &Simulator {
        &self.sim
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start a simulator on `127.0.0.1`, on a free port. Must be called inside a Tokio runtime.
pub async fn start(config: SimConfig) -> std::io::Result<RunningSim> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    start_on(listener, config).await
}

/// Start a simulator on an already bound listener.
pub async fn start_on(listener: tokio::net::TcpListener, config: SimConfig) -> std::io::Result<RunningSim> {
    let addr = listener.local_addr()?;
    let sim = Simulator::new(config);
    // Links need an address a client can reach: the unspecified address is reached on loopback.
    let mut link_addr = addr;
    if addr.ip().is_unspecified() {
        link_addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        });
    }
    let base_url = format!("http://{link_addr}");
    sim.set_bound_base(base_url.clone());
    let task = tokio::spawn(server::serve(listener, router(sim.clone())));
    Ok(RunningSim { addr, base_url, sim, task })
}

/// The simulator as an axum router: `/v2/...` (HipChat), `/g<code>` (guest pages), `/chat/room/<id>`
/// (the staff's web-client room page), `/_sim/...` (control).
///
/// [`FaultAction::Drop`] needs the server of [`start`]/[`start_on`]; under a plain `axum::serve` it
/// answers an empty 502 instead.
pub fn router(sim: Simulator) -> Router {
    control::routes().fallback(dispatch).with_state(sim)
}

async fn dispatch(State(sim): State<Simulator>, request: Request) -> Response {
    let path = request.uri().path();
    if path == "/v2" || path.starts_with("/v2/") {
        return v2::handle(sim, request).await;
    }
    if let Some(id) = guest::web_room_id(path) {
        return guest::web_room(&sim, id, request.method());
    }
    if let Some(code) = guest::guest_code(path) {
        let code = code.to_owned();
        return guest::handle(sim, code, request).await;
    }
    v2::error_response(StatusCode::NOT_FOUND, "Resource not found")
}
