//! `baton serve`, `baton keys` and `baton demo`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use baton_server::auth::generate_key;
use baton_server::{router, AppState, Database, Settings};
use baton_store::postgres::PostgresStore;
use baton_store::sqlite::SqliteStore;
use baton_store::{Agent, AgentStatus, KeyRole, Seniority, Store};
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct ServeArgs {
    /// SQLite database file (created if missing), or a PostgreSQL URL
    /// (`postgres://user:password@host:port/database`) that several instances can share.
    #[arg(long)]
    db: Option<Database>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<String>,
    /// Escalation policy (TOML); the shipped default when absent.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Settings file (TOML): listen, db, policy, max_body_bytes, max_text_bytes,
    /// max_clock_skew_seconds. `BATON_*` variables override it; flags override both.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The meaning tier: `static` (compiled in) or `full` (sentences near a detector's threshold
    /// judged again on all-MiniLM-L6-v2; a build with `--features transformer` and the model
    /// folder). When `full` cannot be had the server says why in a warning and serves on the
    /// static tier rather than refusing to start.
    #[arg(long, value_enum, default_value_t = crate::model::Tier::Static)]
    semantic: crate::model::Tier,
    /// The sentence-transformers folder for `--semantic full` (scripts/fetch-model.sh).
    #[arg(long, env = "BATON_MODEL", default_value = "models/all-MiniLM-L6-v2")]
    model: PathBuf,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once (only its hash is stored).
    Create {
        #[arg(long)]
        db: Database,
        /// integrator (the bot), agent (its own handoffs; needs --agent), lead (every handoff,
        /// dashboard, reports) or admin (everything, keys, agents, webhooks)
        #[arg(long)]
        role: String,
        /// Who or what the key is for.
        #[arg(long)]
        name: String,
        /// For an agent key (required): the agent it belongs to, which must exist
        /// (`PUT /v1/agents/{id}`). The key acts on that agent's handoffs and status only.
        #[arg(long)]
        agent: Option<String>,
    },
    /// List keys (ids, names, roles; never secrets).
    List {
        #[arg(long)]
        db: Database,
    },
    /// Revoke a key by id; it stops working within a few seconds.
    Revoke {
        #[arg(long)]
        db: Database,
        id: String,
    },
}

#[derive(Args)]
pub struct DemoArgs {
    /// SQLite database file for the demo.
    #[arg(long, default_value = "baton-demo.db")]
    db: Database,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Stop after replaying the examples instead of serving until ctrl-c.
    #[arg(long)]
    exit: bool,
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BATON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Opens the store `db` names: a PostgreSQL database (with the default pool), or an SQLite file
/// (created if missing).
pub async fn open_store(db: &Database) -> Result<Arc<dyn Store>> {
    open_store_with_pool(db, baton_store::postgres::DEFAULT_POOL).await
}

/// [`open_store`] with at most `pg_pool` connections to PostgreSQL.
pub async fn open_store_with_pool(db: &Database, pg_pool: usize) -> Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match db {
        Database::Postgres(url) => Arc::new(
            PostgresStore::connect_with_pool(url, pg_pool)
                .await
                .map_err(|e| anyhow::anyhow!("cannot open database {}: {e}", db.redacted()))?,
        ),
        Database::Sqlite(path) => Arc::new(
            SqliteStore::open(path)
                .map_err(|e| anyhow::anyhow!("cannot open database {}: {e}", path.display()))?,
        ),
    };
    Ok(store)
}

/// Each connection is a file descriptor: take all the system allows (the connection cap follows).
fn raise_open_files_limit() {
    match baton_server::server::raise_fd_limit() {
        Some((before, after)) if before != after => {
            tracing::info!(before, after, "raised the open-files limit")
        }
        Some((_, after)) => tracing::info!(limit = after, "open-files limit"),
        None => tracing::warn!("cannot read the open-files limit"),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    baton_server::server::limit_malloc_arenas();
    init_tracing();
    let mut settings =
        Settings::load(args.config.as_deref()).map_err(|e| anyhow::anyhow!("settings: {e}"))?;
    if let Some(db) = args.db {
        settings.db = db;
    }
    if let Some(listen) = args.listen {
        settings.listen = listen;
    }
    if let Some(policy) = args.policy {
        settings.policy = Some(policy);
    }
    let mut policy = crate::load_policy(settings.policy.as_deref())?;
    if let Err(e) = crate::model::attach(&mut policy, args.semantic, &args.model) {
        tracing::warn!("{e:#}; serving with the static meaning tier");
    }
    raise_open_files_limit();
    runtime()?.block_on(async move {
        let store = open_store_with_pool(&settings.db, settings.pg_pool).await?;
        let listener = tokio::net::TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let addr = listener.local_addr()?;
        // The first line on stdout says where to connect (tests read it).
        println!(
            "baton listening on http://{addr} (database {})",
            settings.db.redacted()
        );
        let state = AppState::new(store, policy, settings);
        state.spawn_workers();
        let limits = baton_server::ConnectionLimits::from_settings(&state.settings);
        let stopping = state.stopping.clone();
        baton_server::serve_with(
            listener,
            router(state),
            limits,
            stopping,
            baton_server::shutdown_signal(),
        )
        .await?;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn keys(command: KeysCommand) -> Result<ExitCode> {
    runtime()?.block_on(async move {
        match command {
            KeysCommand::Create {
                db,
                role,
                name,
                agent,
            } => {
                let role = KeyRole::parse(&role).with_context(|| {
                    format!("unknown role `{role}`; expected integrator, agent, lead or admin")
                })?;
                if name.trim().is_empty() {
                    bail!("--name must not be empty");
                }
                match (&agent, role) {
                    (None, KeyRole::Agent) => bail!(
                        "an agent key needs --agent ID: the agent whose handoffs it acts on"
                    ),
                    (Some(_), r) if r != KeyRole::Agent => bail!(
                        "--agent is only for keys with --role agent (a {} key is not tied to an agent)",
                        r.as_str()
                    ),
                    _ => {}
                }
                let store = open_store(&db).await?;
                if let Some(a) = &agent {
                    if store.agent(a).await?.is_none() {
                        let known: Vec<String> =
                            store.agents().await?.into_iter().map(|a| a.id).collect();
                        bail!(
                            "no agent `{a}` in {}; create it first with PUT /v1/agents/{a} (agents: {})",
                            db.redacted(),
                            if known.is_empty() { "none yet".to_string() } else { known.join(", ") }
                        );
                    }
                }
                let new = baton_server::auth::generate_agent_key(&name, role, agent, now());
                store.create_key(new.record.clone()).await?;
                println!("{}", new.key);
                eprintln!(
                    "created {} key `{}` (id {}); it is shown only this once",
                    role.as_str(),
                    name,
                    new.record.id
                );
                Ok(ExitCode::SUCCESS)
            }
            KeysCommand::List { db } => {
                let store = open_store(&db).await?;
                println!(
                    "{:<14} {:<11} {:<27} {:<27} name",
                    "id", "role", "created", "revoked"
                );
                for k in store.keys().await? {
                    println!(
                        "{:<14} {:<11} {:<27} {:<27} {}",
                        k.id,
                        k.role.as_str(),
                        // Padded as text: a Timestamp's Display ignores the width.
                        k.created_at.to_string(),
                        k.revoked_at.map_or("-".into(), |t| t.to_string()),
                        k.name
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            KeysCommand::Revoke { db, id } => {
                let store = open_store(&db).await?;
                store
                    .revoke_key(&id, now())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("revoked key {id}");
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

const DEMO_TEAM: &[(&str, &str, &[&str], u32, Seniority)] = &[
    (
        "agent-sarah",
        "Sarah Chen",
        &["billing", "retention"],
        4,
        Seniority::Senior,
    ),
    (
        "agent-omar",
        "Omar Haddad",
        &["billing"],
        3,
        Seniority::Regular,
    ),
    (
        "agent-lena",
        "Lena Fischer",
        &["technical"],
        4,
        Seniority::Senior,
    ),
    (
        "agent-raj",
        "Raj Patel",
        &["technical", "general"],
        3,
        Seniority::Junior,
    ),
    (
        "agent-ines",
        "Ines Duarte",
        &["legal", "general"],
        2,
        Seniority::Senior,
    ),
    (
        "agent-mark",
        "Mark Owusu",
        &["enterprise", "retention", "general"],
        3,
        Seniority::Senior,
    ),
];

pub fn demo(args: DemoArgs) -> Result<ExitCode> {
    baton_server::server::limit_malloc_arenas();
    init_tracing();
    runtime()?.block_on(async move {
        let store = open_store(&args.db).await?;
        let settings = Settings {
            listen: args.listen.clone(),
            db: args.db.clone(),
            ..Settings::default()
        };
        let state = AppState::new(store.clone(), baton_core::Policy::default(), settings);
        for (id, name, skills, capacity, seniority) in DEMO_TEAM {
            let agent = Agent {
                id: id.to_string(),
                name: name.to_string(),
                skills: skills.iter().map(|s| s.to_string()).collect(),
                capacity: *capacity,
                seniority: *seniority,
                team: skills[0].to_string(),
                status: AgentStatus::Available,
                active: 0,
            };
            store.put_agent(agent, now()).await?;
        }
        let admin = generate_key("demo admin", KeyRole::Admin, now());
        for (id, ..) in DEMO_TEAM {
            store
                .set_agent_status(
                    id,
                    AgentStatus::Available,
                    baton_store::Actor {
                        key_id: admin.record.id.clone(),
                        role: KeyRole::Admin,
                    },
                    now(),
                    state.routing(),
                )
                .await?;
        }
        let lead = generate_key("demo lead", KeyRole::Lead, now());
        store.create_key(lead.record.clone()).await?;
        let sarah = baton_server::auth::generate_agent_key(
            "Sarah Chen",
            KeyRole::Agent,
            Some("agent-sarah".into()),
            now(),
        );
        store.create_key(sarah.record.clone()).await?;
        let integrator = generate_key("demo bot", KeyRole::Integrator, now());
        store.create_key(admin.record.clone()).await?;
        store.create_key(integrator.record.clone()).await?;

        raise_open_files_limit();
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (is another baton running? try --listen 127.0.0.1:0)",
                    args.listen
                )
            })?;
        let addr = listener.local_addr()?;
        let settings = Settings {
            listen: addr.to_string(),
            db: args.db.clone(),
            ..Settings::default()
        };
        // The background workers, as under `serve`: webhook delivery, accept timeouts, due
        // callbacks.
        let state = AppState::new(store.clone(), baton_core::Policy::default(), settings);
        state.spawn_workers();
        let limits = baton_server::ConnectionLimits::from_settings(&state.settings);
        let stopping = state.stopping.clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(baton_server::serve_with(
            listener,
            router(state),
            limits,
            stopping,
            async move {
                tokio::select! {
                    _ = baton_server::shutdown_signal() => {},
                    _ = stop_rx => {},
                }
            },
        ));

        let base = format!("http://{addr}");
        let replayed = replay_examples(&base, &integrator.key).await?;
        println!("\nBaton demo is running at {base}");
        println!("  database       {}", args.db.redacted());
        println!("  health         {base}/healthz");
        println!("  API reference  {base}/openapi.json");
        println!("  metrics        {base}/metrics   (admin key)");
        println!("  admin key      {}", admin.key);
        println!("  integrator key {}", integrator.key);
        println!(
            "  agent desk     {base}/desk   (Sarah Chen's key: {})",
            sarah.key
        );
        println!(
            "  dashboard      {base}/dashboard   (lead key: {})",
            lead.key
        );
        println!(
            "  try:  curl -H 'Authorization: Bearer {}' {base}/v1/handoffs",
            admin.key
        );
        println!("  replayed {replayed} example conversations; ctrl-c stops the server");
        if args.exit {
            let _ = stop_tx.send(());
        }
        server.await.context("server task failed")??;
        Ok(ExitCode::SUCCESS)
    })
}

/// Posts every message of the shipped examples through the API, one conversation after another.
async fn replay_examples(base: &str, key: &str) -> Result<usize> {
    let client = reqwest::Client::new();
    let run = jiff::Timestamp::now().as_second();
    let mut count = 0;
    for line in include_str!("../../../examples/conversations.jsonl").lines() {
        let c: baton_core::Conversation = serde_json::from_str(line)?;
        let id = format!("demo-{run}-{}", c.id);
        let mut last = None;
        for (i, m) in c.messages.iter().enumerate() {
            let body = serde_json::json!({
                "customer": if i == 0 { Some(&c.customer) } else { None },
                "message": {"role": m.role, "text": m.text, "at": m.at, "confidence": m.confidence, "kb_articles": m.kb_articles},
            });
            let resp = client
                .post(format!("{base}/v1/conversations/{id}/messages"))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await?;
            let status = resp.status();
            let value: serde_json::Value = resp.json().await?;
            if !status.is_success() {
                bail!("demo replay of {id} message {i} failed: {status} {value}");
            }
            last = Some(value);
        }
        if let Some(v) = last {
            let d = &v["decision"];
            println!(
                "{:<28} {:<9} {:<20} skill {:<10} priority {}",
                id,
                v["action"].as_str().unwrap_or("?"),
                d["reasons"][0]["kind"].as_str().unwrap_or("-"),
                d["skill"].as_str().unwrap_or("-"),
                d["priority"].as_str().unwrap_or("-"),
            );
        }
        count += 1;
    }
    Ok(count)
}
