//! One order, from account to issued chain (RFC 8555 7.4), through
//! instant-acme: the relay answers each authorization's challenge
//! (TLS-ALPN-01, or HTTP-01 with `--http-port`), waits for the CA to
//! validate, sends a CSR for a key made here, and fetches the chain.

use super::AcmeSettings;
use super::challenge::Challenges;
use super::failure::{Failure, Kind};
use super::store::Store;
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};
use std::sync::Arc;
use std::time::Duration;

/// How long the CA may take to validate, and then to issue. Pebble and
/// Let's Encrypt take seconds; a minute covers a busy CA.
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(60);

/// A certificate the CA issued: the chain and the key made for it (PEM).
pub struct Chain {
    pub chain_pem: String,
    pub key_pem: String,
}

/// The HTTP client for the CA: the web's usual roots (bundled, as the
/// client's are: no system store read), plus `--acme-ca-cert`.
fn http_client(settings: &AcmeSettings) -> Result<Box<dyn instant_acme::HttpClient>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &settings.ca_cert {
        for cert in super::read_ca_cert(path)? {
            roots
                .add(cert)
                .map_err(|e| format!("--acme-ca-cert {}: {e}", path.display()))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS for the CA: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    let client: hyper_util::client::legacy::Client<_, instant_acme::BodyWrapper<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector);
    Ok(Box::new(client))
}

/// The saved account for this CA, or a new one (saved before use).
pub async fn account(settings: &AcmeSettings, store: &Store) -> Result<Account, Failure> {
    let http = || http_client(settings).map_err(|e| Failure::new(Kind::Other, &e));
    match store.account() {
        Ok(Some(credentials)) => {
            return Account::builder_with_http(http()?)
                .from_credentials(credentials)
                .await
                .map_err(|e| Failure::from_acme(&e));
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("ACME account unreadable ({e}); registering a new one"),
    }
    let contact = settings
        .email
        .as_ref()
        .map(|email| format!("mailto:{email}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let new = NewAccount {
        contact: &contacts,
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (account, credentials) = Account::builder_with_http(http()?)
        .create(&new, settings.directory.clone(), None)
        .await
        .map_err(|e| Failure::from_acme(&e))?;
    store
        .save_account(&credentials)
        .map_err(|e| Failure::new(Kind::Other, &e))?;
    tracing::info!(
        "registered an ACME account with {}",
        super::failure::sanitize(&settings.directory)
    );
    Ok(account)
}

/// Orders a certificate for every domain, answering the challenges in
/// `challenges` while the order runs.
pub async fn obtain(
    account: &Account,
    settings: &AcmeSettings,
    challenges: &Challenges,
) -> Result<Chain, Failure> {
    let result = run(account, settings, challenges).await;
    challenges.clear();
    result
}

async fn run(
    account: &Account,
    settings: &AcmeSettings,
    challenges: &Challenges,
) -> Result<Chain, Failure> {
    let acme = |e: instant_acme::Error| Failure::from_acme(&e);
    let identifiers: Vec<Identifier> = settings
        .domains
        .iter()
        .map(|d| Identifier::Dns(d.clone()))
        .collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(acme)?;
    let kind = if settings.http_port.is_some() {
        ChallengeType::Http01
    } else {
        ChallengeType::TlsAlpn01
    };
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization = authorization.map_err(acme)?;
        match authorization.status {
            AuthorizationStatus::Pending => {}
            // Still valid from an earlier order by this account.
            AuthorizationStatus::Valid => continue,
            status => {
                return Err(Failure::new(
                    Kind::Other,
                    &format!("an authorization is {status:?}"),
                ));
            }
        }
        let mut challenge = authorization.challenge(kind.clone()).ok_or_else(|| {
            Failure::new(Kind::Other, &format!("the CA offers no {kind:?} challenge"))
        })?;
        let domain = challenge.identifier().to_string();
        let key_authorization = challenge.key_authorization();
        match kind {
            ChallengeType::Http01 => {
                challenges.add_http(&challenge.token, key_authorization.as_str())
            }
            _ => challenges
                .add_alpn(&domain, key_authorization.digest().as_ref())
                .map_err(|e| Failure::new(Kind::Other, &e))?,
        }
        challenge.set_ready().await.map_err(acme)?;
    }
    let retries = RetryPolicy::new().timeout(VALIDATION_TIMEOUT);
    let status = order.poll_ready(&retries).await.map_err(acme)?;
    if status != OrderStatus::Ready {
        return Err(why_invalid(&mut order).await);
    }
    let key = rcgen::KeyPair::generate().map_err(|e| Failure::new(Kind::Other, &e.to_string()))?;
    let mut params = rcgen::CertificateParams::new(settings.domains.clone())
        .map_err(|e| Failure::new(Kind::Other, &e.to_string()))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .map_err(|e| Failure::new(Kind::Other, &e.to_string()))?;
    order.finalize_csr(csr.der()).await.map_err(acme)?;
    let chain_pem = order.poll_certificate(&retries).await.map_err(acme)?;
    Ok(Chain {
        chain_pem,
        key_pem: key.serialize_pem(),
    })
}

/// The reason the CA gave for an order that went invalid: the first
/// failed challenge's problem, which names what it could not reach.
async fn why_invalid(order: &mut instant_acme::Order) -> Failure {
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authorization)) = authorizations.next().await {
        let Ok(state) = authorization.refresh().await else {
            continue;
        };
        if let Some(problem) = state.challenges.iter().find_map(|c| c.error.as_ref()) {
            return Failure::from_problem(problem);
        }
    }
    Failure::new(
        Kind::Validation,
        "the CA could not validate the domain and gave no reason",
    )
}
