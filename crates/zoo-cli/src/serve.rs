//! `zoo serve`: this machine's devices as a Burn remote compute server (burn-remote over
//! WebSocket), which `--backend remote:ws://HOST:PORT` in `train`, `eval`, `infer` and `bench`
//! computes on.

use std::io::Write;
use std::net::TcpListener;

use burn::tensor::server::{RemoteServer, TokenAuthorizer, WebSocketTransport};
use clap::Args;
use zoo_models::backend::{DeviceSelection, select_devices};

use crate::error::{CliError, Context};

/// The variable both sides read the shared token from: `zoo serve` accepts only clients that
/// present it, and `remote:` backends present it.
pub const TOKEN_VARIABLE: &str = zoo_models::backend::REMOTE_TOKEN_VARIABLE;

/// Arguments of `zoo serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Backend whose devices are served: flex, ndarray, wgpu, vulkan, ... (those compiled in).
    #[arg(long, value_name = "B", default_value = zoo_models::backend::DEFAULT_BACKEND)]
    pub backend: String,
    /// Devices to serve: N (the backend's first N; on a CPU backend, N devices sharing its
    /// cores), or a list such as `wgpu:0,wgpu:1`. Clients pick one by its position.
    #[arg(long, value_name = "N|LIST", default_value = "1")]
    pub devices: String,
    /// TCP port to listen on, on every IPv4 interface; 0 picks a free one (printed).
    #[arg(long, value_name = "P", default_value_t = 3000)]
    pub port: u16,
}

/// `zoo serve`: binds the port, prints where clients connect, and serves until Ctrl+C or SIGTERM.
pub fn run_serve(args: ServeArgs, out: &mut dyn Write) -> Result<(), CliError> {
    if args.backend.starts_with(zoo_models::backend::REMOTE_PREFIX) {
        return Err(CliError::Usage("--backend: a server serves this machine's devices, not another server's".into()));
    }
    let selection = DeviceSelection::parse(&args.devices);
    let devices = select_devices(&args.backend, &selection).context("--devices")?;
    let bad_port = |e: std::io::Error| CliError::Usage(format!("--port {}: {e}", args.port));
    let listener = TcpListener::bind(("0.0.0.0", args.port)).map_err(bad_port)?;
    let port = listener.local_addr().map_err(bad_port)?.port();
    let mut server = RemoteServer::new(devices.clone());
    let token = std::env::var(TOKEN_VARIABLE).ok().filter(|t| !t.is_empty());
    if let Some(token) = &token {
        let authorizer =
            TokenAuthorizer::new(token.as_str()).map_err(|e| CliError::Usage(format!("{TOKEN_VARIABLE}: {e}")))?;
        server = server.with_authorizer(authorizer);
    }
    let access = if token.is_some() { format!("clients presenting ${TOKEN_VARIABLE}") } else { "any client".into() };
    // A client waits for this line (the port may have been picked by the system).
    writeln!(
        out,
        "serving {} {} device(s) on ws://0.0.0.0:{port} to {access}: clients use --backend remote:ws://HOST:{port}; Ctrl+C stops",
        devices.len(),
        args.backend
    )
    .and_then(|()| out.flush())
    .map_err(CliError::Output)?;
    server
        .serve(WebSocketTransport::from_listener(listener))
        .map_err(|e| CliError::Usage(format!("serving on port {port}: {e}")))
}
