//! The subset of Siddhi that WSO2's custom-rule template uses, compiled to a [`CustomPlan`].
//!
//! A custom rule's `siddhiQuery` is two queries (the Admin Portal's template, `CustomRuleDTO`'s
//! example). Accepted, keywords in any case, `--` comments allowed:
//!
//! ```text
//! FROM RequestStream
//! SELECT <item>, …                 -- must name `… AS isEligible` and `… AS throttleKey`;
//!                                  -- other items are bare RequestStream attributes
//! INSERT INTO EligibilityStream;
//! FROM EligibilityStream[isEligible == true]#throttler:timeBatch(<n> <unit>[, <start>])
//! SELECT throttleKey, (count(<column>) >= <limit>) AS isThrottled[, expiryTimeStamp]
//! GROUP BY throttleKey
//! INSERT [ALL EVENTS] INTO ResultStream[;]
//! ```
//!
//! - `isEligible`: `true`, `false`, `==` / `!=` between a RequestStream string attribute
//!   (`userId`, `apiContext`, `apiVersion`, `appId`, `appKey`, `appTier`, `apiKey`, `apiTier`,
//!   `subscriptionKey`, `subscriptionTier`, `resourceKey`, `resourceTier`, `appTenant`,
//!   `apiTenant`, `apiName`, `messageID`) and a quoted string, combined with `and`, `or`, `not`
//!   and parentheses;
//! - `throttleKey`: a quoted string, an attribute, or `str:concat(…)` of those;
//! - `<unit>`: `millisec`, `sec`, `min`, `hour`, `day` (and their long and plural forms);
//! - `<column>`: any column the first query selects.
//!
//! Anything else (other functions, `propertiesMap`, sliding windows such as `#window.time`,
//! `>` instead of `>=`, a third query) is refused with the line and column where it starts.
//! Windows are aligned to epoch multiples of their length, as WSO2's built-in policies'
//! `timeBatch(…, 0)` are; a `<start>` other than 0 is refused.

use super::custom::{Attribute, Condition, CustomPlan, KeyPart};
use std::ops::Range;
use winnow::ascii::{Caseless, digit1, multispace1, till_line_ending};
use winnow::combinator::{
    alt, cut_err, delimited, eof, not, opt, preceded, repeat, separated, terminated,
};
use winnow::error::{ContextError, ErrMode, ModalResult, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::stream::LocatingSlice;
use winnow::token::{take_till, take_while};

type Input<'a> = LocatingSlice<&'a str>;

/// Where and why a query is refused. `line` and `column` count from 1 (columns in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct SiddhiError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl SiddhiError {
    fn at(query: &str, offset: usize, message: impl Into<String>) -> Self {
        let before = &query[..offset.min(query.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        Self {
            line,
            column,
            message: message.into(),
        }
    }
}

/// Compiles `query`, or says where it leaves the accepted subset.
pub fn compile(query: &str) -> Result<CustomPlan, SiddhiError> {
    let plan = plan
        .parse(LocatingSlice::new(query))
        .map_err(|e| SiddhiError::at(query, e.offset(), describe(e.inner(), query, e.offset())))?;
    plan.check()
        .map_err(|(span, message)| SiddhiError::at(query, span.start, message))
}

fn describe(error: &ContextError, query: &str, offset: usize) -> String {
    let expected: Vec<String> = error
        .context()
        .filter_map(|c| match c {
            StrContext::Expected(StrContextValue::StringLiteral(s)) => Some(format!("`{s}`")),
            StrContext::Expected(StrContextValue::CharLiteral(c)) => Some(format!("`{c}`")),
            StrContext::Expected(StrContextValue::Description(d)) => Some((*d).to_owned()),
            _ => None,
        })
        .collect();
    let found = query[offset.min(query.len())..]
        .split_whitespace()
        .next()
        .map_or_else(|| "the end of the query".to_owned(), |w| format!("`{w}`"));
    match expected.as_slice() {
        [] => format!("unexpected {found}"),
        [one] => format!("expected {one}, found {found}"),
        many => format!("expected one of {}, found {found}", many.join(", ")),
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax: a small expression language with spans, checked afterwards.

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Name(String),
    Str(String),
    Int(i64),
    Bool(bool),
    Not(Box<Spanned>),
    Binary(Box<Spanned>, Op, Box<Spanned>),
    Call(String, Vec<Spanned>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Or,
    And,
    Eq,
    Ne,
    Ge,
    Gt,
    Le,
    Lt,
}

#[derive(Debug, Clone, PartialEq)]
struct Spanned {
    expr: Expr,
    span: Range<usize>,
}

#[derive(Debug)]
struct Item {
    expr: Spanned,
    alias: Option<(String, Range<usize>)>,
}

#[derive(Debug)]
struct Plan {
    eligibility: Vec<Item>,
    filter: Spanned,
    window: Window,
    start: Option<(i64, Range<usize>)>,
    result: Vec<Item>,
    group_by: (String, Range<usize>),
}

/// Whitespace and `--` comments.
fn ws(input: &mut Input<'_>) -> ModalResult<()> {
    repeat(
        0..,
        alt((multispace1.void(), ("--", till_line_ending).void())),
    )
    .parse_next(input)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A keyword, in any case, not followed by an identifier character.
fn kw<'a>(word: &'static str) -> impl Parser<Input<'a>, (), ErrMode<ContextError>> {
    preceded(
        ws,
        terminated(Caseless(word), not(take_while(1, is_ident_char))),
    )
    .void()
    .context(StrContext::Expected(StrContextValue::StringLiteral(word)))
}

fn sym<'a>(s: &'static str) -> impl Parser<Input<'a>, (), ErrMode<ContextError>> {
    preceded(ws, s)
        .void()
        .context(StrContext::Expected(StrContextValue::StringLiteral(s)))
}

fn ident(input: &mut Input<'_>) -> ModalResult<(String, Range<usize>)> {
    preceded(
        ws,
        (
            take_while(1, |c: char| c.is_ascii_alphabetic() || c == '_'),
            take_while(0.., is_ident_char),
        )
            .take()
            .with_span(),
    )
    .map(|(s, span): (&str, _)| (s.to_owned(), span))
    .context(StrContext::Expected(StrContextValue::Description("a name")))
    .parse_next(input)
}

/// A stream name, exactly as the template spells it (case matters for streams in Siddhi).
fn stream<'a>(name: &'static str) -> impl Parser<Input<'a>, (), ErrMode<ContextError>> {
    preceded(ws, terminated(name, not(take_while(1, is_ident_char))))
        .void()
        .context(StrContext::Expected(StrContextValue::StringLiteral(name)))
}

fn string(input: &mut Input<'_>) -> ModalResult<String> {
    alt((
        delimited('\'', take_till(0.., '\''), cut_err('\'')),
        delimited('"', take_till(0.., '"'), cut_err('"')),
    ))
    .map(str::to_owned)
    .parse_next(input)
}

fn int(input: &mut Input<'_>) -> ModalResult<i64> {
    preceded(ws, digit1.try_map(str::parse::<i64>))
        .context(StrContext::Expected(StrContextValue::Description(
            "a number",
        )))
        .parse_next(input)
}

fn primary(input: &mut Input<'_>) -> ModalResult<Spanned> {
    ws.parse_next(input)?;
    alt((
        delimited('(', expr, cut_err(sym(")"))).map(|e| e.expr),
        string.map(Expr::Str),
        digit1.try_map(str::parse::<i64>).map(Expr::Int),
        call_or_name,
    ))
    .with_span()
    .map(|(expr, span)| Spanned { expr, span })
    .context(StrContext::Expected(StrContextValue::Description(
        "a name, a quoted string, a number or `(`",
    )))
    .parse_next(input)
}

fn call_or_name(input: &mut Input<'_>) -> ModalResult<Expr> {
    let (first, _) = ident.parse_next(input)?;
    let name = match opt(preceded(':', ident)).parse_next(input)? {
        Some((second, _)) => format!("{first}:{second}"),
        None => first,
    };
    let args = opt(preceded(
        sym("("),
        cut_err(terminated(separated(0.., expr, sym(",")), sym(")"))),
    ))
    .parse_next(input)?;
    Ok(match args {
        Some(args) => Expr::Call(name, args),
        None if name.eq_ignore_ascii_case("true") => Expr::Bool(true),
        None if name.eq_ignore_ascii_case("false") => Expr::Bool(false),
        None => Expr::Name(name),
    })
}

fn unary(input: &mut Input<'_>) -> ModalResult<Spanned> {
    ws.parse_next(input)?;
    alt((
        preceded(kw("not"), cut_err(unary))
            .with_span()
            .map(|(inner, span)| Spanned {
                expr: Expr::Not(Box::new(inner)),
                span,
            }),
        comparison,
    ))
    .parse_next(input)
}

fn comparison(input: &mut Input<'_>) -> ModalResult<Spanned> {
    let left = primary.parse_next(input)?;
    let op = opt(preceded(
        ws,
        alt((
            "==".value(Op::Eq),
            "!=".value(Op::Ne),
            ">=".value(Op::Ge),
            "<=".value(Op::Le),
            ">".value(Op::Gt),
            "<".value(Op::Lt),
        )),
    ))
    .parse_next(input)?;
    match op {
        None => Ok(left),
        Some(op) => {
            let right = cut_err(primary).parse_next(input)?;
            Ok(join(left, op, right))
        }
    }
}

fn join(left: Spanned, op: Op, right: Spanned) -> Spanned {
    let span = left.span.start..right.span.end;
    Spanned {
        expr: Expr::Binary(Box::new(left), op, Box::new(right)),
        span,
    }
}

fn chain<'a>(
    word: &'static str,
    op: Op,
    operand: fn(&mut Input<'a>) -> ModalResult<Spanned>,
) -> impl Parser<Input<'a>, Spanned, ErrMode<ContextError>> {
    move |input: &mut Input<'a>| {
        let mut left = operand(input)?;
        while opt(kw(word)).parse_next(input)?.is_some() {
            let right = cut_err(operand).parse_next(input)?;
            left = join(left, op, right);
        }
        Ok(left)
    }
}

fn conjunction(input: &mut Input<'_>) -> ModalResult<Spanned> {
    chain("and", Op::And, unary).parse_next(input)
}

fn expr(input: &mut Input<'_>) -> ModalResult<Spanned> {
    chain("or", Op::Or, conjunction).parse_next(input)
}

fn item(input: &mut Input<'_>) -> ModalResult<Item> {
    let expr = expr.parse_next(input)?;
    let alias = opt(preceded(kw("as"), cut_err(ident))).parse_next(input)?;
    Ok(Item { expr, alias })
}

fn plan(input: &mut Input<'_>) -> ModalResult<Plan> {
    (
        kw("from"),
        cut_err(stream("RequestStream")),
        cut_err(kw("select")),
    )
        .parse_next(input)?;
    let eligibility = cut_err(separated(1.., item, sym(","))).parse_next(input)?;
    cut_err((
        kw("insert"),
        kw("into"),
        stream("EligibilityStream"),
        sym(";"),
        kw("from"),
        stream("EligibilityStream"),
        sym("["),
    ))
    .parse_next(input)?;
    let filter = cut_err(expr).parse_next(input)?;
    cut_err((
        sym("]"),
        sym("#"),
        preceded(ws, "throttler:timeBatch").context(StrContext::Expected(
            StrContextValue::StringLiteral("throttler:timeBatch"),
        )),
        sym("("),
    ))
    .parse_next(input)?;
    let window = cut_err(window).parse_next(input)?;
    let start = opt(preceded(sym(","), cut_err(int.with_span()))).parse_next(input)?;
    cut_err((sym(")"), kw("select"))).parse_next(input)?;
    let result = cut_err(separated(1.., item, sym(","))).parse_next(input)?;
    cut_err((kw("group"), kw("by"))).parse_next(input)?;
    let group_by = cut_err(ident).parse_next(input)?;
    cut_err((
        kw("insert"),
        opt((kw("all"), kw("events"))),
        kw("into"),
        stream("ResultStream"),
        opt(sym(";")),
        ws,
        eof.context(StrContext::Expected(StrContextValue::Description(
            "the end of the query",
        ))),
    ))
    .parse_next(input)?;
    Ok(Plan {
        eligibility,
        filter,
        window,
        start,
        result,
        group_by,
    })
}

/// `<n> <unit>`, checked later.
fn window(input: &mut Input<'_>) -> ModalResult<Window> {
    let ((count, (unit, unit_span)), span) = (int, ident).with_span().parse_next(input)?;
    Ok(Window {
        count,
        unit,
        unit_span,
        span,
    })
}

#[derive(Debug)]
struct Window {
    count: i64,
    unit: String,
    unit_span: Range<usize>,
    span: Range<usize>,
}

impl Window {
    fn millis(&self) -> Result<i64, Refusal> {
        let unit = match self.unit.to_ascii_lowercase().as_str() {
            "millisec" | "millisecs" | "millisecond" | "milliseconds" => 1,
            "sec" | "secs" | "second" | "seconds" => 1_000,
            "min" | "mins" | "minute" | "minutes" => 60_000,
            "hour" | "hours" => 3_600_000,
            "day" | "days" => 86_400_000,
            _ => {
                return Err((
                    self.unit_span.clone(),
                    format!(
                        "`{}` is not a time unit (millisec, sec, min, hour, day)",
                        self.unit
                    ),
                ));
            }
        };
        match self.count.saturating_mul(unit) {
            0 => Err((self.span.clone(), "the window must be longer than 0".into())),
            millis => Ok(millis),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Meaning: from the syntax tree to a plan, refusing what the subset leaves out.

type Refusal = (Range<usize>, String);

impl Plan {
    fn check(self) -> Result<CustomPlan, Refusal> {
        let mut columns = Vec::new();
        let (mut eligible, mut key) = (None, None);
        for item in &self.eligibility {
            match &item.alias {
                None => match &item.expr.expr {
                    Expr::Name(name) => {
                        attribute(name, &item.expr.span)?;
                        columns.push(name.clone());
                    }
                    _ => {
                        return Err((
                            item.expr.span.clone(),
                            "an expression here needs `AS isEligible` or `AS throttleKey`".into(),
                        ));
                    }
                },
                Some((alias, span)) => {
                    match alias.as_str() {
                        "isEligible" => eligible = Some(condition(&item.expr)?),
                        "throttleKey" => key = Some(key_parts(&item.expr)?),
                        other => {
                            return Err((
                                span.clone(),
                                format!(
                                    "`{other}`: the first query names only `isEligible` and \
                                     `throttleKey`"
                                ),
                            ));
                        }
                    }
                    columns.push(alias.clone());
                }
            }
        }
        let end = self
            .eligibility
            .last()
            .map_or(0..0, |i| i.expr.span.clone());
        let eligible = eligible.ok_or((end.clone(), "no `… AS isEligible` selected".into()))?;
        let key = key.ok_or((end, "no `… AS throttleKey` selected".into()))?;

        // `[isEligible == true]` or `[isEligible]`.
        let filter_ok = match &self.filter.expr {
            Expr::Name(n) => n == "isEligible",
            Expr::Binary(l, Op::Eq, r) => {
                l.expr == Expr::Name("isEligible".into()) && r.expr == Expr::Bool(true)
            }
            _ => false,
        };
        if !filter_ok {
            return Err((
                self.filter.span,
                "the filter must be `isEligible == true`".into(),
            ));
        }
        let window_millis = self.window.millis()?;
        if let Some((start, span)) = self.start
            && start != 0
        {
            return Err((
                span,
                "only windows aligned to the epoch (start time 0) are supported".into(),
            ));
        }

        let mut limit = None;
        for item in &self.result {
            match (&item.alias, &item.expr.expr) {
                (None, Expr::Name(n)) if n == "throttleKey" || n == "expiryTimeStamp" => {}
                (Some((alias, _)), _) if alias == "isThrottled" => {
                    limit = Some(threshold(&item.expr, &columns)?)
                }
                _ => {
                    return Err((
                        item.expr.span.clone(),
                        "the second query selects only `throttleKey`, \
                         `(count(…) >= <limit>) AS isThrottled` and `expiryTimeStamp`"
                            .into(),
                    ));
                }
            }
        }
        let limit = limit.ok_or((
            self.group_by.1.clone(),
            "no `(count(…) >= <limit>) AS isThrottled` selected".into(),
        ))?;
        if self.group_by.0 != "throttleKey" {
            return Err((
                self.group_by.1,
                "events must be grouped by `throttleKey`".into(),
            ));
        }
        Ok(CustomPlan {
            eligible,
            key,
            window_millis,
            limit,
        })
    }
}

fn attribute(name: &str, span: &Range<usize>) -> Result<Attribute, Refusal> {
    Attribute::parse(name).ok_or_else(|| {
        let why = if name == "propertiesMap" {
            "`propertiesMap` is not supported".to_owned()
        } else {
            format!("`{name}` is not a RequestStream attribute")
        };
        (span.clone(), why)
    })
}

fn condition(e: &Spanned) -> Result<Condition, Refusal> {
    Ok(match &e.expr {
        Expr::Bool(b) => Condition::Const(*b),
        Expr::Not(inner) => Condition::Not(Box::new(condition(inner)?)),
        Expr::Binary(l, Op::And, r) => {
            Condition::And(Box::new(condition(l)?), Box::new(condition(r)?))
        }
        Expr::Binary(l, Op::Or, r) => {
            Condition::Or(Box::new(condition(l)?), Box::new(condition(r)?))
        }
        Expr::Binary(l, op @ (Op::Eq | Op::Ne), r) => {
            let (name, span, value) = match (&l.expr, &r.expr) {
                (Expr::Name(n), Expr::Str(v)) => (n, &l.span, v),
                (Expr::Str(v), Expr::Name(n)) => (n, &r.span, v),
                _ => {
                    return Err((
                        e.span.clone(),
                        "compare an attribute with a quoted string".into(),
                    ));
                }
            };
            Condition::Equals {
                attribute: attribute(name, span)?,
                value: value.clone(),
                negated: *op == Op::Ne,
            }
        }
        _ => {
            return Err((
                e.span.clone(),
                "`isEligible` accepts `==`, `!=`, `and`, `or`, `not`, `true` and `false`".into(),
            ));
        }
    })
}

fn key_parts(e: &Spanned) -> Result<Vec<KeyPart>, Refusal> {
    let part = |e: &Spanned| match &e.expr {
        Expr::Str(s) => Ok(KeyPart::Text(s.clone())),
        Expr::Name(n) => attribute(n, &e.span).map(KeyPart::Attribute),
        _ => Err((
            e.span.clone(),
            "a key part is a quoted string or an attribute".into(),
        )),
    };
    match &e.expr {
        Expr::Call(name, args) if name == "str:concat" => args.iter().map(part).collect(),
        Expr::Call(name, _) => Err((
            e.span.clone(),
            format!("`{name}` is not supported; `str:concat` is"),
        )),
        _ => part(e).map(|p| vec![p]),
    }
}

/// `(count(<column>) >= <limit>)`.
fn threshold(e: &Spanned, columns: &[String]) -> Result<i64, Refusal> {
    let refuse = || {
        (
            e.span.clone(),
            "`isThrottled` must be `count(<column>) >= <limit>`".to_owned(),
        )
    };
    let Expr::Binary(l, Op::Ge, r) = &e.expr else {
        return Err(refuse());
    };
    let (Expr::Call(name, args), Expr::Int(limit)) = (&l.expr, &r.expr) else {
        return Err(refuse());
    };
    if name != "count" {
        return Err(refuse());
    }
    match args.as_slice() {
        [
            Spanned {
                expr: Expr::Name(column),
                span,
            },
        ] => {
            if !columns.contains(column) {
                return Err((
                    span.clone(),
                    format!("`{column}` is not a column of EligibilityStream"),
                ));
            }
        }
        _ => return Err(refuse()),
    }
    Ok(*limit)
}
