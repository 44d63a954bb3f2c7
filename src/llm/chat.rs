//! The chat's model calls (SPEC §12): one structured-output call that picks
//! a branch, and the steps of a tool-calling conversation. The model only
//! chooses words and which tool to call; the caller runs the tools, and
//! every tool result reaches the model between the untrusted-data markers.

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls, ChatCompletionRequestAssistantMessage,
    ChatCompletionRequestAssistantMessageContent, ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestToolMessage, ChatCompletionRequestToolMessageContent, ChatCompletionRequestUserMessage, ChatCompletionTool,
    ChatCompletionTools, CreateChatCompletionRequestArgs, FunctionCall, FunctionObject, ResponseFormat,
};
use async_openai::Client;
use secrecy::SecretString;

use super::LlmError;
use crate::config::LlmSettings;

/// One message of a conversation, as this crate keeps it.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    System(String),
    User(String),
    Assistant(String),
    /// The model asked for these tool calls.
    Calls(Vec<Call>),
    /// A tool's result, answering the call `id`.
    Tool { id: String, content: String },
}

/// A tool call the model asked for: its id, the tool, the arguments as the
/// JSON text it wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// What the model answered in one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Said {
    Text(String),
    Calls(Vec<Call>),
}

/// A tool as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

/// The chat's client to an OpenAI-compatible server.
pub struct ChatModel {
    client: Client<OpenAIConfig>,
    settings: LlmSettings,
}

fn request_message(m: &Msg) -> ChatCompletionRequestMessage {
    match m {
        Msg::System(t) => ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage::from(t.as_str())),
        Msg::User(t) => ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage::from(t.as_str())),
        Msg::Assistant(t) => ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
            content: Some(ChatCompletionRequestAssistantMessageContent::Text(t.clone())),
            ..Default::default()
        }),
        Msg::Calls(calls) => ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
            tool_calls: Some(
                calls
                    .iter()
                    .map(|c| {
                        ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                            id: c.id.clone(),
                            function: FunctionCall { name: c.name.clone(), arguments: c.arguments.clone() },
                        })
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        Msg::Tool { id, content } => ChatCompletionRequestMessage::Tool(ChatCompletionRequestToolMessage {
            content: ChatCompletionRequestToolMessageContent::Text(content.clone()),
            tool_call_id: id.clone(),
        }),
    }
}

impl ChatModel {
    /// None unless `llm.provider` names a model server.
    pub fn new(settings: &LlmSettings, key: Option<SecretString>) -> Option<Self> {
        super::client(settings, key).map(|client| ChatModel { client, settings: settings.clone() })
    }

    async fn create(&self, messages: &[Msg], tools: &[ToolDef], format: Option<ResponseFormat>) -> Result<Said, LlmError> {
        let mut args = CreateChatCompletionRequestArgs::default();
        args.model(self.settings.model.clone())
            .messages(messages.iter().map(request_message).collect::<Vec<_>>())
            .max_tokens(self.settings.max_tokens)
            .temperature(self.settings.temperature as f32);
        if !tools.is_empty() {
            args.tools(
                tools
                    .iter()
                    .map(|t| {
                        ChatCompletionTools::Function(ChatCompletionTool {
                            function: FunctionObject { name: t.name.clone(), description: Some(t.description.clone()), parameters: Some(t.parameters.clone()), strict: None },
                        })
                    })
                    .collect::<Vec<_>>(),
            );
        }
        if let Some(f) = format {
            args.response_format(f);
        }
        let request = args.build().map_err(|e| LlmError::Request(e.to_string()))?;
        let response = self.client.chat().create(request).await.map_err(|e| LlmError::Request(crate::secrets::redact(&e.to_string())))?;
        let message = response.choices.into_iter().next().map(|c| c.message).ok_or(LlmError::Empty)?;
        if let Some(r) = message.refusal.filter(|r| !r.trim().is_empty()) {
            return Err(LlmError::Refused(r));
        }
        let calls: Vec<Call> = message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| match c {
                ChatCompletionMessageToolCalls::Function(f) => Some(Call { id: f.id, name: f.function.name, arguments: f.function.arguments }),
                ChatCompletionMessageToolCalls::Custom(_) => None,
            })
            .collect();
        if !calls.is_empty() {
            return Ok(Said::Calls(calls));
        }
        message.content.filter(|t| !t.trim().is_empty()).map(Said::Text).ok_or(LlmError::Empty)
    }

    /// One step of a conversation with `tools` offered.
    pub async fn step(&self, messages: &[Msg], tools: &[ToolDef]) -> Result<Said, LlmError> {
        self.create(messages, tools, None).await
    }

    /// The branch a message belongs to, by one structured-output call:
    /// budget, report, web_search or generic; None when the answer does not
    /// parse as one of them.
    pub async fn route(&self, history: &[Msg], message: &str) -> Result<Option<String>, LlmError> {
        const BRANCHES: [&str; 4] = ["budget", "report", "web_search", "generic"];
        let mut messages = vec![Msg::System(
            "Classify the user's message for an ad-campaign assistant. budget: questions about campaigns, budgets, spend, ROAS, decisions or changes to them; \
             report: the pipeline's reports and what changed; web_search: facts from the web; generic: anything else. \
             Answer JSON {\"branch\": ...} only."
                .into(),
        )];
        messages.extend(history.iter().cloned());
        messages.push(Msg::User(message.to_string()));
        let format = super::strict_json(
            "route",
            "the branch of one chat message",
            serde_json::json!({
                "type": "object",
                "properties": {"branch": {"type": "string", "enum": BRANCHES}},
                "required": ["branch"],
                "additionalProperties": false
            }),
        );
        let Said::Text(text) = self.create(&messages, &[], Some(format)).await? else { return Ok(None) };
        let branch = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["branch"].as_str().map(str::to_string));
        Ok(branch.filter(|b| BRANCHES.contains(&b.as_str())))
    }
}
