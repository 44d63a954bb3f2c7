//! `campaign-pilot mcp` (SPEC §12): the tool registry served over the Model
//! Context Protocol on stdio (the official `rmcp` SDK). stdout carries
//! protocol messages only; logs go to stderr.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData, Implementation, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ServerHandler, ServiceExt};

use crate::clock::SystemClock;
use crate::config::LoadedConfig;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::tools::Hub;

/// The registry as an MCP server.
#[derive(Clone)]
pub struct McpServer {
    hub: Arc<Hub>,
    caller: &'static str,
}

impl McpServer {
    pub fn new(hub: Arc<Hub>, caller: &'static str) -> Self {
        McpServer { hub, caller }
    }
}

fn tool_list(hub: &Hub) -> Vec<Tool> {
    hub.specs()
        .into_iter()
        .map(|t| {
            let schema = match t.input_schema {
                serde_json::Value::Object(o) => o,
                _ => serde_json::Map::new(),
            };
            Tool::new(t.name, t.description, Arc::new(schema))
        })
        .collect()
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("campaign-pilot", env!("CARGO_PKG_VERSION")))
            .with_instructions("campaign-pilot's numbers: campaigns, budgets, decisions and their reasons, reports, history and the follow-ups of applied actions. Every figure comes from the pipeline's own runs.")
    }

    async fn list_tools(&self, _request: Option<PaginatedRequestParams>, _context: RequestContext<RoleServer>) -> std::result::Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tool_list(&self.hub)))
    }

    async fn call_tool(&self, request: CallToolRequestParams, _context: RequestContext<RoleServer>) -> std::result::Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.map(serde_json::Value::Object).unwrap_or(serde_json::Value::Null);
        match self.hub.call(&request.name, arguments, self.caller).await {
            Ok(v) => Ok(CallToolResult::success(vec![ContentBlock::text(v.to_string())]).into()),
            // Not a tool this server offers, or arguments that do not fit:
            // the request itself is wrong (JSON-RPC invalid params).
            Err(e) if e.is_bad_request() => Err(ErrorData::invalid_params(e.to_string(), None)),
            // The tool ran and could not answer, or refused: the caller sees why.
            Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(e.body())]).into()),
        }
    }
}

/// Serves the registry on stdin/stdout until the client goes away.
pub async fn serve_stdio(cfg: &LoadedConfig) -> Result<()> {
    let db = Db::connect(&cfg.database_url()).await?;
    let server = McpServer::new(Arc::new(Hub::new(db, Arc::new(cfg.clone()), Arc::new(SystemClock))), "mcp-stdio");
    let running = server.serve(rmcp::transport::stdio()).await.map_err(|e| Error::Usage(format!("mcp: {e}")))?;
    running.waiting().await.map_err(|e| Error::Usage(format!("mcp: {e}")))?;
    Ok(())
}
