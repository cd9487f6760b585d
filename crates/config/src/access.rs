//! `[[access]]`: pg_hba-like rules deciding which clients may try to log in.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::ClientAuth;

/// One rule. A connection matches when every field matches; the first matching rule decides.
/// With no rules, every connection may go on to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    /// What a match does.
    pub action: AccessAction,
    /// Client addresses the rule covers. Default [`AddressMatch::All`].
    pub address: AddressMatch,
    /// User names (as the client sent them) the rule covers. Empty means all.
    pub users: Vec<String>,
    /// Database names the rule covers. Empty means all.
    pub databases: Vec<String>,
    /// Client authentication methods the rule covers. Empty means all.
    pub methods: Vec<ClientAuth>,
}

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessAction {
    /// `"allow"`: the client goes on to authenticate.
    Allow,
    /// `"reject"`: the client is refused before any password check.
    Reject,
}

impl AccessAction {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessAction::Allow => "allow",
            AccessAction::Reject => "reject",
        }
    }

    pub(crate) const ALL: &'static [AccessAction] = &[AccessAction::Allow, AccessAction::Reject];
}

/// Client addresses: all of them, or one network (a single address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressMatch {
    /// `"all"`.
    All,
    /// A CIDR block such as `10.0.0.0/8` or `fd00::/8`.
    Net(IpNet),
}

impl AddressMatch {
    /// Whether `addr` is covered. IPv4 clients seen through an IPv6 listener (`::ffff:a.b.c.d`)
    /// match IPv4 networks.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match self {
            AddressMatch::All => true,
            AddressMatch::Net(net) => net.contains(&addr.to_canonical()),
        }
    }
}

/// What the rules are checked against: known before the client proves anything.
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    pub address: IpAddr,
    pub user: &'a str,
    pub database: &'a str,
    /// The method the client is asked to authenticate with.
    pub method: ClientAuth,
}

impl AccessRule {
    /// Whether this rule covers `request`.
    pub fn matches(&self, request: &AccessRequest<'_>) -> bool {
        let listed =
            |list: &[String], name: &str| list.is_empty() || list.iter().any(|n| n == name);
        self.address.contains(request.address)
            && listed(&self.users, request.user)
            && listed(&self.databases, request.database)
            && (self.methods.is_empty() || self.methods.contains(&request.method))
    }
}

/// The action of the first rule covering `request`; allow when no rules are configured, reject
/// when rules are configured and none covers it (as pg_hba.conf does).
pub fn decide(rules: &[AccessRule], request: &AccessRequest<'_>) -> AccessAction {
    if rules.is_empty() {
        return AccessAction::Allow;
    }
    rules
        .iter()
        .find(|rule| rule.matches(request))
        .map_or(AccessAction::Reject, |rule| rule.action)
}

/// `"all"`, a CIDR block, or a single address.
pub(crate) fn parse_address(s: &str) -> Result<AddressMatch, String> {
    if s == "all" {
        return Ok(AddressMatch::All);
    }
    if let Ok(net) = s.parse::<IpNet>() {
        // 10.1.2.3/8 is almost certainly a typo for 10.0.0.0/8 or 10.1.2.3/32: say so.
        if net.trunc() != net {
            return Err(format!(
                r#""{s}" has host bits set: did you mean "{}"?"#,
                net.trunc()
            ));
        }
        return Ok(AddressMatch::Net(net));
    }
    s.parse::<IpAddr>()
        .map(|ip| AddressMatch::Net(IpNet::from(ip)))
        .map_err(|_| {
            format!(r#"invalid address "{s}": expected "all", a CIDR block such as "10.0.0.0/8" or "fd00::/8", or one IP address"#)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: AccessAction, address: &str) -> AccessRule {
        AccessRule {
            action,
            address: parse_address(address).unwrap(),
            users: vec![],
            databases: vec![],
            methods: vec![],
        }
    }

    fn request(address: &str) -> AccessRequest<'static> {
        AccessRequest {
            address: address.parse().unwrap(),
            user: "app",
            database: "appdb",
            method: ClientAuth::ScramSha256,
        }
    }

    #[test]
    fn addresses_parse_and_match() {
        let ten = parse_address("10.0.0.0/8").unwrap();
        assert!(ten.contains("10.200.0.1".parse().unwrap()));
        assert!(!ten.contains("11.0.0.1".parse().unwrap()));
        assert!(ten.contains("::ffff:10.1.1.1".parse().unwrap()));
        let v6 = parse_address("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        let one = parse_address("192.168.1.7").unwrap();
        assert!(one.contains("192.168.1.7".parse().unwrap()));
        assert!(!one.contains("192.168.1.8".parse().unwrap()));
        assert!(parse_address("::1")
            .unwrap()
            .contains("::1".parse().unwrap()));
        assert!(AddressMatch::All.contains("::1".parse().unwrap()));
    }

    #[test]
    fn bad_addresses_are_explained() {
        assert_eq!(
            parse_address("10.1.2.3/8").unwrap_err(),
            r#""10.1.2.3/8" has host bits set: did you mean "10.0.0.0/8"?"#
        );
        for bad in ["10.0.0.0/33", "localhost", "", "10.0.0/8", "*"] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn first_match_wins_and_no_rules_allow_everything() {
        let req = request("10.0.0.5");
        assert_eq!(decide(&[], &req), AccessAction::Allow);
        let rules = [
            rule(AccessAction::Reject, "10.0.0.0/8"),
            rule(AccessAction::Allow, "all"),
        ];
        assert_eq!(decide(&rules, &req), AccessAction::Reject);
        assert_eq!(decide(&rules, &request("192.168.0.1")), AccessAction::Allow);
        // Rules configured, none matches: rejected, as pg_hba.conf does.
        assert_eq!(
            decide(&rules[..1], &request("192.168.0.1")),
            AccessAction::Reject
        );
    }

    #[test]
    fn every_field_must_match() {
        let mut r = rule(AccessAction::Allow, "all");
        r.users = vec!["app".into()];
        r.databases = vec!["appdb".into()];
        r.methods = vec![ClientAuth::ScramSha256];
        let req = request("127.0.0.1");
        assert!(r.matches(&req));
        assert!(!r.matches(&AccessRequest {
            user: "other",
            ..req
        }));
        assert!(!r.matches(&AccessRequest {
            database: "other",
            ..req
        }));
        assert!(!r.matches(&AccessRequest {
            method: ClientAuth::Md5,
            ..req
        }));
    }
}
