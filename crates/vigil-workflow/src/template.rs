//! Task templates (minijinja) over the event and earlier tasks' results.
//!
//! A template sees `event` (the flat event: `event['component.name']`), `tasks` (results of
//! the tasks it runs after: `tasks.ownership.team`), `workflow` and `finding`. Literal text in
//! the template is the operator's and stays as written; every *value* inserted with `{{ }}` is
//! escaped for where the text goes ([`Flavor`]), whatever filters (`|safe`) the template used.
//! The rendered text then reaches a sink only as a serde-encoded JSON string, a mail body or a
//! query literal — never by string concatenation into a structured payload.
//!
//! Templates are compiled at start (syntax errors are configuration errors) and run with a
//! fuel limit and an output cap, so a hostile event (a 100,000-element array) cannot make
//! rendering unbounded.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ActionError;
use crate::event::{escape_control, escape_mrkdwn};

/// Where a rendered text goes, which decides how inserted values are escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// Plain text (mail, Jira, Teams, terminal): control characters escaped.
    Plain,
    /// Slack mrkdwn: `&<>` as entities and control characters escaped.
    Mrkdwn,
    /// A query: values become query-language literals (strings JSON-quoted), so an event
    /// value can never change the query's structure.
    Query,
}

impl Flavor {
    fn suffix(self) -> &'static str {
        match self {
            Flavor::Plain => "#plain",
            Flavor::Mrkdwn => "#mrkdwn",
            Flavor::Query => "#query",
        }
    }
}

/// The longest text a template may produce; longer output is cut.
pub const MAX_RENDERED_BYTES: usize = 64 * 1024;

const FUEL: u64 = 200_000;

/// Compiled templates, by name.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

/// A handle to one compiled template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateRef(String);

/// What a template sees.
#[derive(Debug, Serialize)]
pub struct TemplateContext<'a> {
    /// The event (with fields added by earlier tasks, e.g. `owner.team`).
    pub event: &'a Value,
    /// Earlier tasks' results by task name.
    pub tasks: &'a Map<String, Value>,
    /// The workflow's name.
    pub workflow: &'a str,
    /// The finding (or event) id.
    pub finding: &'a str,
}

impl Templates {
    /// An empty set.
    pub fn new() -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_fuel(Some(FUEL));
        env.set_auto_escape_callback(|name| {
            if name.ends_with(Flavor::Mrkdwn.suffix()) {
                AutoEscape::Custom("mrkdwn")
            } else if name.ends_with(Flavor::Query.suffix()) {
                AutoEscape::Custom("query")
            } else {
                AutoEscape::Custom("plain")
            }
        });
        env.set_formatter(|out, state, value| {
            if value.is_undefined() || value.is_none() {
                return Ok(());
            }
            let text = match state.auto_escape() {
                AutoEscape::Custom("query") => serde_json::to_string(value).map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::BadSerialization, e.to_string())
                })?,
                AutoEscape::Custom("mrkdwn") => escape_mrkdwn(&value.to_string()),
                _ => escape_control(&value.to_string()),
            };
            out.write_str(&text).map_err(minijinja::Error::from)
        });
        Templates { env }
    }

    /// Compiles `source` under `name` (the config key path, for messages).
    pub fn add(&mut self, name: &str, source: &str, flavor: Flavor) -> Result<TemplateRef, String> {
        let full = format!("{name}{}", flavor.suffix());
        self.env
            .add_template_owned(full.clone(), source.to_owned())
            .map_err(|e| template_error_text(&e))?;
        Ok(TemplateRef(full))
    }

    /// Renders a compiled template. A failure is permanent: the same template and event fail
    /// the same way next time.
    pub fn render(
        &self,
        template: &TemplateRef,
        context: &TemplateContext<'_>,
    ) -> Result<String, ActionError> {
        let t = self
            .env
            .get_template(&template.0)
            .map_err(|e| ActionError::permanent(template_error_text(&e)))?;
        let mut text = t.render(context).map_err(|e| {
            ActionError::permanent(format!("template: {}", template_error_text(&e)))
        })?;
        if text.len() > MAX_RENDERED_BYTES {
            let mut cut = MAX_RENDERED_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        Ok(text)
    }
}

fn template_error_text(e: &minijinja::Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(detail) = e.detail() {
        s.push_str(": ");
        s.push_str(detail);
    }
    if let Some(line) = e.line() {
        s.push_str(&format!(" (template line {line})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(source: &str, flavor: Flavor, event: &Value) -> String {
        let mut t = Templates::new();
        let r = t.add("t", source, flavor).unwrap();
        let tasks = json!({"ownership": {"team": "payments"}});
        let tasks = tasks.as_object().unwrap();
        t.render(
            &r,
            &TemplateContext {
                event,
                tasks,
                workflow: "wf",
                finding: "42",
            },
        )
        .unwrap()
    }

    #[test]
    fn renders_event_and_task_results() {
        let event =
            json!({"component.name": "debug", "component.version": "4.4.2", "host.name": "web-1"});
        let cases: &[(&str, Flavor, &str)] = &[
            (
                "{{ event['component.name'] }}@{{ event['component.version'] }} on {{ event['host.name'] }}",
                Flavor::Plain,
                "debug@4.4.2 on web-1",
            ),
            (
                "team {{ tasks.ownership.team }}",
                Flavor::Plain,
                "team payments",
            ),
            ("[{{ event['missing'] }}]", Flavor::Plain, "[]"),
            ("{{ tasks.nothing.deeper }}", Flavor::Plain, ""),
            ("{{ workflow }}/{{ finding }}", Flavor::Plain, "wf/42"),
            (
                "name == {{ event['component.name'] }}",
                Flavor::Query,
                "name == \"debug\"",
            ),
        ];
        for (source, flavor, want) in cases {
            assert_eq!(render(source, *flavor, &event), *want, "{source}");
        }
    }

    #[test]
    fn inserted_values_are_escaped_even_when_marked_safe() {
        let event = json!({"n": "\x1b[2J<!channel> & \"x\" $(touch x)"});
        assert_eq!(
            render("*{{ event.n }}*", Flavor::Plain, &event),
            "*\\u{1b}[2J<!channel> & \"x\" $(touch x)*"
        );
        assert_eq!(
            render("<{{ event.n|safe }}>", Flavor::Mrkdwn, &event),
            "<\\u{1b}[2J&lt;!channel&gt; &amp; \"x\" $(touch x)>"
        );
        assert_eq!(
            render("name == {{ event.n }}", Flavor::Query, &event),
            "name == \"\\u001b[2J<!channel> & \\\"x\\\" $(touch x)\""
        );
    }

    proptest::proptest! {
        #[test]
        fn inserted_values_never_carry_raw_controls(name in "\\PC{0,4}[\\x00-\\x1f\\x7f\\u{202e}]{0,3}\\PC{0,4}") {
            let event = json!({"component.name": name});
            let plain = render("[{{ event['component.name'] }}]", Flavor::Plain, &event);
            proptest::prop_assert!(!plain.chars().any(crate::event::is_unsafe_char), "{:?}", plain);
            let md = render("{{ event['component.name'] }}", Flavor::Mrkdwn, &event);
            proptest::prop_assert!(!md.contains('<') && !md.contains('>'));
            let q = render("{{ event['component.name'] }}", Flavor::Query, &event);
            proptest::prop_assert_eq!(serde_json::from_str::<String>(&q).ok(), Some(name));
        }
    }

    #[test]
    fn syntax_errors_are_reported_and_runaway_loops_stop() {
        let mut t = Templates::new();
        assert!(t.add("bad", "{{ event[ }}", Flavor::Plain).is_err());
        let r = t
            .add(
                "loop",
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
                Flavor::Plain,
            )
            .unwrap();
        let e = json!({});
        let tasks = Map::new();
        let ctx = TemplateContext {
            event: &e,
            tasks: &tasks,
            workflow: "w",
            finding: "f",
        };
        assert!(t.render(&r, &ctx).is_err());
    }
}
