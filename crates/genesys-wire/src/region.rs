//! Genesys Cloud regions: a region name (`eu-west-1`) or its domain (`mypurecloud.ie`)
//! gives the login and API base URLs.

/// (region name, domain), from the regions table of the API facts.
pub const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "mypurecloud.com"),
    ("us-east-2", "use2.us-gov-pure.cloud"),
    ("us-west-2", "usw2.pure.cloud"),
    ("ca-central-1", "cac1.pure.cloud"),
    ("sa-east-1", "sae1.pure.cloud"),
    ("mx-central-1", "mxc1.pure.cloud"),
    ("eu-west-1", "mypurecloud.ie"),
    ("eu-west-2", "euw2.pure.cloud"),
    ("eu-central-1", "mypurecloud.de"),
    ("eu-central-2", "euc2.pure.cloud"),
    ("me-central-1", "mec1.pure.cloud"),
    ("ap-south-1", "aps1.pure.cloud"),
    ("ap-southeast-1", "apse1.pure.cloud"),
    ("ap-southeast-2", "mypurecloud.com.au"),
    ("ap-northeast-1", "mypurecloud.jp"),
    ("ap-northeast-2", "apne2.pure.cloud"),
    ("ap-northeast-3", "apne3.pure.cloud"),
];

/// The domain for a region name or a domain, case-insensitively; `None` if unknown.
pub fn domain(region: &str) -> Option<&'static str> {
    let region = region.trim();
    REGIONS
        .iter()
        .find(|(name, domain)| {
            name.eq_ignore_ascii_case(region) || domain.eq_ignore_ascii_case(region)
        })
        .map(|(_, domain)| *domain)
}

pub fn login_url(domain: &str) -> String {
    format!("https://login.{domain}")
}

pub fn api_url(domain: &str) -> String {
    format!("https://api.{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_name_and_its_domain_give_the_same_urls() {
        assert_eq!(domain("eu-west-1"), Some("mypurecloud.ie"));
        assert_eq!(domain("mypurecloud.ie"), Some("mypurecloud.ie"));
        assert_eq!(domain("EU-West-1"), Some("mypurecloud.ie"));
        assert_eq!(login_url("mypurecloud.ie"), "https://login.mypurecloud.ie");
        assert_eq!(api_url("mypurecloud.ie"), "https://api.mypurecloud.ie");
    }

    #[test]
    fn an_unknown_region_is_none() {
        assert_eq!(domain("eu-west-9"), None);
        assert_eq!(domain("example.com"), None);
    }
}
