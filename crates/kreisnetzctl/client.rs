//! The connection to one node: a tonic channel, the bearer token, and the time limit that every
//! call gets.
use std::future::Future;
use std::time::Duration;

use anyhow::Result;
use kreisnetz_proto::v1::change_feed_service_client::ChangeFeedServiceClient;
use kreisnetz_proto::v1::contact_service_client::ContactServiceClient;
use kreisnetz_proto::v1::node_service_client::NodeServiceClient;
use kreisnetz_proto::v1::offering_service_client::OfferingServiceClient;
use kreisnetz_proto::v1::token_service_client::TokenServiceClient;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use crate::credentials::Secret;
use crate::errors::{TimedOut, Unreachable, Usage};

/// Adds `authorization: Bearer <token>` to every call when a token was given.
#[derive(Clone)]
pub struct Auth(Option<AsciiMetadataValue>);

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Some(_) => "Auth(Bearer <redacted>)",
            None => "Auth(None)",
        })
    }
}

impl Interceptor for Auth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        Ok(request)
    }
}

type Authed = InterceptedService<Channel, Auth>;

/// A connected node.
pub struct Node {
    channel: Channel,
    auth: Auth,
    timeout: Duration,
}

impl Node {
    /// Connects to `url` (already checked by the argument parser), giving up after `timeout`.
    /// `token` was checked by [`crate::credentials::resolve`].
    pub async fn connect(url: &str, token: Option<&Secret>, timeout: Duration) -> Result<Node> {
        let auth = match token {
            None => Auth(None),
            Some(t) => {
                let mut value = MetadataValue::try_from(format!("Bearer {}", t.expose()))
                    .map_err(|_| Usage("the token is not printable ASCII".into()))?;
                // Keeps it out of the HTTP/2 header compression table (and of any dump).
                value.set_sensitive(true);
                Auth(Some(value))
            }
        };
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| Usage(format!("--node: {e}")))?
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .user_agent(concat!("kreisnetzctl/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| Usage(format!("--node: {e}")))?;
        let channel = match tokio::time::timeout(timeout, endpoint.connect()).await {
            Err(_) => return Err(TimedOut { after: timeout }.into()),
            Ok(Err(e)) => {
                return Err(Unreachable {
                    reason: innermost(&e),
                }
                .into());
            }
            Ok(Ok(channel)) => channel,
        };
        Ok(Node {
            channel,
            auth,
            timeout,
        })
    }

    fn authed(&self) -> Authed {
        InterceptedService::new(self.channel.clone(), self.auth.clone())
    }

    pub fn offerings(&self) -> OfferingServiceClient<Authed> {
        OfferingServiceClient::new(self.authed())
    }

    pub fn contacts(&self) -> ContactServiceClient<Authed> {
        ContactServiceClient::new(self.authed())
    }

    pub fn feed(&self) -> ChangeFeedServiceClient<Authed> {
        ChangeFeedServiceClient::new(self.authed())
    }

    pub fn admin(&self) -> NodeServiceClient<Authed> {
        NodeServiceClient::new(self.authed())
    }

    pub fn tokens(&self) -> TokenServiceClient<Authed> {
        TokenServiceClient::new(self.authed())
    }

    /// A request that tells the node how long this CLI waits (`grpc-timeout`).
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    /// Waits for a call's answer, at most `--timeout`. The error is the node's status (or
    /// [`TimedOut`]), ready for [`crate::errors::report`].
    pub async fn call<T>(
        &self,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T> {
        let started = std::time::Instant::now();
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(TimedOut {
                after: self.timeout,
            }
            .into()),
            // tonic's channel enforces the request's grpc-timeout itself and reports it as
            // CANCELLED "Timeout expired"; that is our time limit, not a cancellation.
            Ok(Err(status))
                if status.code() == tonic::Code::Cancelled
                    && (status.message() == tonic::TimeoutExpired(()).to_string()
                        || started.elapsed() >= self.timeout) =>
            {
                Err(TimedOut {
                    after: self.timeout,
                }
                .into())
            }
            Ok(Err(status)) => Err(status.into()),
            Ok(Ok(response)) => Ok(response.into_inner()),
        }
    }
}

/// The most specific cause of a transport error ("Connection refused (os error 111)" rather
/// than "transport error").
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(source) = last.source() {
        last = source;
    }
    let text = last.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "unknown transport error".into(),
    }
}
