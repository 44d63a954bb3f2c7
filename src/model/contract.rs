//! The data contract of SPEC §3: table names, column names and types, and
//! the per-table counts the run reports.
//!
//! Column names live here as constants so that a rename is one edit and a
//! typo is a compile error.

use polars::prelude::DataType;
use serde::{Deserialize, Serialize};

pub mod col {
    pub const PRODUCT_ID: &str = "product_id";
    pub const SKU: &str = "sku";
    pub const NAME: &str = "name";
    pub const CATEGORY: &str = "category";
    pub const PRICE: &str = "price";
    pub const STOCK: &str = "stock_quantity";
    pub const CREATED_AT: &str = "created_at";
    pub const DATE: &str = "date";
    pub const VIEWS: &str = "views";
    pub const UNITS: &str = "units_sold";
    pub const REVENUE: &str = "revenue";
    pub const CAMPAIGN_ID: &str = "campaign_id";
    pub const STATUS: &str = "status";
    pub const DAILY_BUDGET: &str = "daily_budget";
    pub const START_DATE: &str = "start_date";
    pub const PAUSED_BY: &str = "paused_by";
    pub const PAUSED_AT: &str = "paused_at";
    pub const IMPRESSIONS: &str = "impressions";
    pub const CLICKS: &str = "clicks";
    pub const SPEND: &str = "spend";
    pub const CONVERSIONS: &str = "conversions";
    pub const NEW_CUSTOMERS: &str = "new_customers";
    /// Line of the record in its source file (the header is line 1).
    pub const LINE: &str = "__line";
    /// Dense index of a product in the valid products table.
    pub const PIDX: &str = "__pidx";
}

/// The logical type a contract column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text; `required` means it may not be empty.
    Text,
    Int,
    Money,
    Date,
    /// A date that may be empty; read as text and parsed during validation.
    OptionalDate,
}

impl Kind {
    /// The dtype the reader asks for.
    pub fn read_dtype(self) -> DataType {
        match self {
            Kind::Text | Kind::OptionalDate => DataType::String,
            Kind::Int => DataType::Int64,
            Kind::Money => DataType::Float64,
            Kind::Date => DataType::Date,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Int => "a whole number",
            Kind::Money => "a decimal number",
            Kind::Date | Kind::OptionalDate => "a YYYY-MM-DD date",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn c(name: &'static str, kind: Kind, required: bool) -> Column {
    Column { name, kind, required }
}


use col::*;
use Kind::*;
const PRODUCTS: &[Column] = &[
    c(PRODUCT_ID, Text, true),
    c(SKU, Text, false),
    c(NAME, Text, false),
    c(CATEGORY, Text, false),
    c(PRICE, Money, true),
    c(STOCK, Int, true),
    c(CREATED_AT, Date, true),
];
const PRODUCT_DAILY: &[Column] = &[
    c(DATE, Date, true),
    c(PRODUCT_ID, Text, true),
    c(VIEWS, Int, true),
    c(UNITS, Int, true),
    c(REVENUE, Money, true),
];
const CAMPAIGNS: &[Column] = &[
    c(CAMPAIGN_ID, Text, true),
    c(NAME, Text, false),
    c(PRODUCT_ID, Text, true),
    c(STATUS, Text, true),
    c(DAILY_BUDGET, Money, true),
    c(START_DATE, Date, true),
    c(PAUSED_BY, Text, false),
    c(PAUSED_AT, OptionalDate, false),
];
const VIEWS_TABLE: &[Column] = &[c(DATE, Date, true), c(PRODUCT_ID, Text, true), c(VIEWS, Int, true)];
const CAMPAIGN_DAILY: &[Column] = &[
    c(DATE, Date, true),
    c(CAMPAIGN_ID, Text, true),
    c(IMPRESSIONS, Int, true),
    c(CLICKS, Int, true),
    c(SPEND, Money, true),
    c(CONVERSIONS, Int, true),
    c(REVENUE, Money, true),
    c(NEW_CUSTOMERS, Int, true),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Products,
    ProductDaily,
    Campaigns,
    CampaignDaily,
    /// `views.csv` of a separate views source (`views.kind = "files"`).
    Views,
}

impl Table {
    /// The four tables of the `files` connectors (SPEC §3).
    pub const CONTRACT: [Table; 4] = [Table::Products, Table::ProductDaily, Table::Campaigns, Table::CampaignDaily];
    /// Every table a run reads and counts.
    pub const ALL: [Table; 5] = [Table::Products, Table::ProductDaily, Table::Campaigns, Table::CampaignDaily, Table::Views];

    pub fn name(self) -> &'static str {
        match self {
            Table::Products => "products",
            Table::ProductDaily => "product_daily",
            Table::Campaigns => "campaigns",
            Table::CampaignDaily => "campaign_daily",
            Table::Views => "views",
        }
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Products => PRODUCTS,
            Table::ProductDaily => PRODUCT_DAILY,
            Table::Campaigns => CAMPAIGNS,
            Table::CampaignDaily => CAMPAIGN_DAILY,
            Table::Views => VIEWS_TABLE,
        }
    }

    /// The column whose date decides "after as_of" for this table.
    pub fn as_of_column(self) -> &'static str {
        match self {
            Table::Products => col::CREATED_AT,
            Table::ProductDaily | Table::CampaignDaily | Table::Views => col::DATE,
            Table::Campaigns => col::START_DATE,
        }
    }
}

/// A per-table count, serialized as `{table: n}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCounts {
    pub products: u64,
    pub product_daily: u64,
    pub campaigns: u64,
    pub campaign_daily: u64,
    /// Rows of a separate views file (`views.kind = "files"`); left out of
    /// report.json when zero, so the four SPEC §3 tables keep their shape.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub views: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl TableCounts {
    pub fn get_mut(&mut self, t: Table) -> &mut u64 {
        match t {
            Table::Products => &mut self.products,
            Table::ProductDaily => &mut self.product_daily,
            Table::Campaigns => &mut self.campaigns,
            Table::CampaignDaily => &mut self.campaign_daily,
            Table::Views => &mut self.views,
        }
    }
    pub fn get(&self, t: Table) -> u64 {
        match t {
            Table::Products => self.products,
            Table::ProductDaily => self.product_daily,
            Table::Campaigns => self.campaigns,
            Table::CampaignDaily => self.campaign_daily,
            Table::Views => self.views,
        }
    }
    pub fn total(&self) -> u64 {
        self.products + self.product_daily + self.campaigns + self.campaign_daily + self.views
    }
}
