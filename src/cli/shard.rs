//! `flashbench shard`: one local shard of a run over several processes, started by
//! `flashbench run` itself (hidden).

use crate::model::exit::Exit;
use std::path::PathBuf;

/// What a local parent tells a `flashbench shard` child (see `shard::child`).
#[derive(Debug, clap::Args)]
pub struct ShardArgs {
    /// The run's resolved scenario.
    #[arg(long, value_name = "FILE")]
    pub scenario: PathBuf,
    /// Which shard of how many.
    #[arg(long, value_name = "i/N")]
    pub shard: crate::model::ShardSpec,
    /// Where its part goes.
    #[arg(long, value_name = "DIR")]
    pub part: PathBuf,
    /// The reference server's base URLs, separated by commas.
    #[arg(long, value_name = "URLS", value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// The run's `{run}` tag.
    #[arg(long, value_name = "TAG")]
    pub run_tag: String,
    /// Source addresses buyers bind.
    #[arg(long, value_name = "LIST", value_parser = crate::limits::parse_source_list)]
    pub sources: Option<crate::limits::SourceList>,
}

/// Runs one shard child: its slice of the buyers, released when the parent says.
pub(super) async fn shard_command(args: ShardArgs) -> Exit {
    crate::shard::child::run(crate::shard::child::ChildArgs {
        scenario: args.scenario,
        spec: args.shard,
        part: args.part,
        endpoints: args.endpoints,
        run_tag: args.run_tag,
        sources: args.sources.map(|l| l.0).unwrap_or_default(),
    })
    .await
}
