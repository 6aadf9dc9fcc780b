//! An authoritative DNS server on 127.0.0.1 (UDP and TCP, one port) serving one zone whose TXT records
//! tests set and change while it runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::proto::rr::rdata::{SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

/// A running authoritative DNS server for one zone; stops when dropped.
pub struct DnsServer {
    address: SocketAddr,
    zone: Arc<InMemoryZoneHandler>,
    serial: std::sync::atomic::AtomicU32,
    _server: Server<Catalog>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Starts a server authoritative for `zone` (for example `example.test`) on a free port of 127.0.0.1.
    pub async fn start(zone: &str) -> std::io::Result<Self> {
        let origin = fqdn(zone)?;
        let mut handler =
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(
            fqdn(&format!("ns.{zone}"))?,
            fqdn(&format!("hostmaster.{zone}"))?,
            1,
            3600,
            600,
            86_400,
            0,
        );
        handler.upsert_mut(Record::from_rdata(origin.clone(), 0, RData::SOA(soa)), 1);
        let zone_handler = Arc::new(handler);
        let mut catalog = Catalog::new();
        catalog.upsert(
            LowerName::new(&origin),
            vec![zone_handler.clone() as Arc<dyn ZoneHandler>],
        );

        // One port for both transports, as a real server has; retry if the UDP port is taken for TCP.
        let mut attempts = 0;
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await?;
            match TcpListener::bind(udp.local_addr()?).await {
                Ok(tcp) => break (udp, tcp),
                Err(error) if attempts < 20 => {
                    attempts += 1;
                    let _ = error;
                }
                Err(error) => return Err(error),
            }
        };
        let address = udp.local_addr()?;
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64 * 1024);
        Ok(Self {
            address,
            zone: zone_handler,
            serial: std::sync::atomic::AtomicU32::new(1),
            _server: server,
        })
    }

    /// The address (127.0.0.1 and the port) to send queries to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Replaces the TXT records at `name` (a name inside the zone) with `values`; no values removes them.
    pub async fn set_txt(&self, name: &str, values: &[&str]) -> std::io::Result<()> {
        let name = fqdn(name)?;
        let serial = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        {
            let mut records = self.zone.records_mut().await;
            records.retain(|key, _| {
                !(key.name == LowerName::new(&name) && key.record_type == RecordType::TXT)
            });
        }
        for value in values {
            let record = Record::from_rdata(
                name.clone(),
                0,
                RData::TXT(TXT::new(vec![(*value).to_owned()])),
            );
            if !self.zone.upsert(record, serial).await {
                return Err(std::io::Error::other(format!("{name} is outside the zone")));
            }
        }
        Ok(())
    }
}

fn fqdn(name: &str) -> std::io::Result<Name> {
    let text = if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&text).map_err(|error| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{name:?}: {error}"),
        )
    })
}
