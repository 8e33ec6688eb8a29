// Matrix identifiers (spec v1.13 appendices, "Identifier Grammar") and the bridge's ghost
// and portal names.

#include "connectors/matrix/matrix_ids.hpp"

#include <gtest/gtest.h>

namespace coibridge::connectors::matrix {
namespace {

TEST(ServerName, Grammar) {
  for (const char* ok :
       {"matrix.org", "matrix.org:8888", "1.2.3.4", "1.2.3.4:1234", "[1234:5678::abcd]",
        "[1234:5678::abcd]:5678", "localhost", "MATRIX.test", "a-b.c"}) {
    EXPECT_TRUE(is_valid_server_name(ok)) << ok;
  }
  for (const char* bad : {"", ":80", "matrix.org:", "matrix.org:123456", "matrix.org:8a",
                          "ma trix.org", "matrix_org", "[1234::abcd", "[]", "[xyz::1]", "[::1]x",
                          "[::1]:", "exa\xc3\xa9mple.org", "a/b", "matrix.org:80:80"}) {
    EXPECT_FALSE(is_valid_server_name(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_server_name(std::string(256, 'a')));
  EXPECT_TRUE(is_valid_server_name(std::string(255, 'a')));
}

TEST(UserId, CompliantAndHistorical) {
  EXPECT_TRUE(is_valid_user_id("@alice:matrix.org"));
  EXPECT_TRUE(is_compliant_user_id("@a.b_c=d-e/f+g:matrix.org:8448"));
  // Historical localparts: clients MUST accept them, we never create them.
  for (const char* historical :
       {"@Alice:matrix.org", "@al ice:matrix.org", "@\xc3\xa9:matrix.org", "@:matrix.org"}) {
    EXPECT_TRUE(is_valid_user_id(historical)) << historical;
    EXPECT_FALSE(is_compliant_user_id(historical)) << historical;
  }
  for (const char* bad : {"", "@", "alice:matrix.org", "@alice", "@alice:", "!alice:matrix.org",
                          "@alice:bad_server", "@al\xff:matrix.org", "@\xed\xa0\x80:matrix.org"}) {
    EXPECT_FALSE(is_valid_user_id(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_user_id(std::string("@a\0b:matrix.org", 16)));
  // 255 bytes including sigil and server name, not one more.
  const std::string server = ":example.org";
  EXPECT_TRUE(is_valid_user_id("@" + std::string(255 - 1 - server.size(), 'a') + server));
  EXPECT_FALSE(is_valid_user_id("@" + std::string(256 - 1 - server.size(), 'a') + server));
}

TEST(RoomIds, RoomsAliasesEvents) {
  EXPECT_TRUE(is_valid_room_id("!OGEhHVWSdvArJzumhm:matrix.org"));
  EXPECT_FALSE(is_valid_room_id("!:matrix.org"));
  EXPECT_FALSE(is_valid_room_id("!"));
  EXPECT_FALSE(is_valid_room_id("!abc:"));
  // Room version 12: "!" and the create event's hash, no server name.
  EXPECT_TRUE(is_valid_room_id("!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"));
  EXPECT_FALSE(split_id("!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM").has_value());
  EXPECT_FALSE(is_valid_room_id("#abc:matrix.org"));
  EXPECT_TRUE(is_valid_room_alias("#room:matrix.org"));
  EXPECT_TRUE(is_valid_room_alias("#räum mit leer:matrix.org"));
  EXPECT_FALSE(is_valid_room_alias("#:matrix.org"));
  EXPECT_FALSE(is_valid_room_alias("#room"));
  EXPECT_FALSE(is_valid_room_alias("#" + std::string(250, 'r') + ":matrix.org"));
  // Room versions 1-2 ($local:server), 3 (base64), 4 and later (URL-safe base64).
  for (const char* ok :
       {"$143273582443PhrSn:example.org", "$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk",
        "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"}) {
    EXPECT_TRUE(is_valid_event_id(ok)) << ok;
  }
  for (const char* bad :
       {"", "$", "$abc:", "$:example.org", "$abc:bad server", "143273582443PhrSn:example.org"}) {
    EXPECT_FALSE(is_valid_event_id(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_event_id("$" + std::string(255, 'a')));
}

TEST(RoomIds, ServerNamesAfterTheFirstColon) {
  // The first ':' ends the localpart, so "b:c:1" would be the server: not a valid one.
  EXPECT_FALSE(is_valid_room_id("!a:b:c:1"));
  EXPECT_TRUE(is_valid_room_id("!a:[::1]:8448"));
  EXPECT_EQ(split_id("!a:[::1]:8448"), (IdParts{"a", "[::1]:8448"}));
  EXPECT_EQ(split_id("@bob:matrix.test"), (IdParts{"bob", "matrix.test"}));
  EXPECT_EQ(split_id("#r:matrix.test"), (IdParts{"r", "matrix.test"}));
  EXPECT_EQ(split_id("$e:matrix.test"), (IdParts{"e", "matrix.test"}));
  EXPECT_FALSE(split_id("$Rqnc-F-dvnEYJTyHq").has_value());  // no server name to split off
  EXPECT_FALSE(split_id("bob:matrix.test").has_value());
  EXPECT_FALSE(split_id("").has_value());
}

TEST(MxcUri, ServerNameAndMediaId) {
  EXPECT_TRUE(is_valid_mxc_uri("mxc://matrix.org/SEsfnsuifSDFSSEF"));
  EXPECT_TRUE(is_valid_mxc_uri("mxc://[::1]:8448/a_b-C"));
  for (const char* bad :
       {"", "mxc://", "mxc://matrix.org", "mxc://matrix.org/", "mxc://matrix.org/../../etc",
        "mxc://matrix.org/a/b", "mxc://matrix.org/a%2fb", "https://matrix.org/a",
        "MXC://matrix.org/a", "mxc://bad_server/a"}) {
    EXPECT_FALSE(is_valid_mxc_uri(bad)) << bad;
  }
}

TEST(Localpart, EscapesPerMappingFromOtherCharacterSets) {
  EXPECT_EQ(escape_localpart("bob@example.org"), "bob=40example.org");
  EXPECT_EQ(escape_localpart("Bob_X"), "_bob___x");
  EXPECT_EQ(escape_localpart("a=b+c d/e-f.g"), "a=3db=2bc=20d/e-f.g");
  EXPECT_EQ(escape_localpart("#"), "=23");
  EXPECT_EQ(escape_localpart("\xc3\xa1"), "=c3=a1");  // á
  EXPECT_EQ(escape_localpart(""), "");
}

TEST(Localpart, UnescapeIsTheExactInverse) {
  for (const std::string s :
       {"bob@example.org", "Bob_X", "__", "a=b+c d/e-f.g", "ü€😀", "UPPER", "x:y", "tab\there"}) {
    const std::string escaped = escape_localpart(s);
    for (char c : escaped) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                  c == '/' || c == '_' || c == '=')
          << escaped;
    }
    EXPECT_EQ(unescape_localpart(escaped), s) << escaped;
  }
  // Everything escape never writes is refused, so one remote id has one ghost.
  for (const char* bad : {"_", "_1", "_=", "=4", "=4g", "=4A", "=61", "=5f", "=41", "=2e", "A", "+",
                          "=", "a b", "=ff", "=c3"}) {
    EXPECT_FALSE(unescape_localpart(bad).has_value()) << bad;
  }
}

TEST(Ghosts, UserIdsForMailAddresses) {
  const GhostNaming naming{"matrix.test", "_coi_", "mail"};
  EXPECT_EQ(GhostNaming{"matrix.test"}.prefix, "_coi_");
  EXPECT_EQ(*ghost_user_id("mail", "bob@example.org", naming),
            "@_coi_bob=40example.org:matrix.test");
  EXPECT_EQ(person_of_ghost("@_coi_bob=40example.org:matrix.test", naming),
            (GhostPerson{"mail", "bob@example.org"}));
  const auto ghost = ghost_user_id("mail", "Ünïcode.User+tag@Example.org", naming);
  ASSERT_TRUE(ghost.ok());
  EXPECT_TRUE(is_compliant_user_id(*ghost)) << *ghost;
  EXPECT_EQ(person_of_ghost(*ghost, naming), (GhostPerson{"mail", "Ünïcode.User+tag@Example.org"}));
  EXPECT_TRUE(in_ghost_namespace(*ghost, naming));

  const GhostNaming other{"matrix.test", "_mail_", "mail"};
  EXPECT_EQ(*ghost_user_id("mail", "a@b", other), "@_mail_a=40b:matrix.test");
  EXPECT_FALSE(person_of_ghost("@_coi_a=40b:matrix.test", other).has_value());
}

// A ghost is derived from (connector, remote id): the same address text on two networks is two
// people, and two ghosts.
TEST(Ghosts, TheSameRemoteIdOnTwoNetworksIsTwoGhosts) {
  const GhostNaming naming{"matrix.test", "_coi_", "mail"};
  const auto mail = ghost_user_id("mail", "bob@example.org", naming);
  const auto xmpp = ghost_user_id("xmpp", "bob@example.org", naming);
  const auto other_mail = ghost_user_id("mail-2", "bob@example.org", naming);
  ASSERT_TRUE(mail.ok() && xmpp.ok() && other_mail.ok());
  EXPECT_EQ(*xmpp, "@_coi_xmpp_-bob=40example.org:matrix.test");
  EXPECT_EQ(*other_mail, "@_coi_mail-2_-bob=40example.org:matrix.test");
  EXPECT_NE(*mail, *xmpp);
  EXPECT_NE(*mail, *other_mail);
  EXPECT_TRUE(is_compliant_user_id(*xmpp));
  EXPECT_EQ(person_of_ghost(*xmpp, naming), (GhostPerson{"xmpp", "bob@example.org"}));
  EXPECT_EQ(person_of_ghost(*other_mail, naming), (GhostPerson{"mail-2", "bob@example.org"}));
  // Underscores and capitals on either side stay unambiguous.
  const auto tricky = ghost_user_id("slack_2", "U_X-y", naming);
  ASSERT_TRUE(tricky.ok());
  EXPECT_EQ(person_of_ghost(*tricky, naming), (GhostPerson{"slack_2", "U_X-y"}));
}

// The migration rule: ghosts made before ghosts named their network have no "_-"; they are
// the people of the connector direct chats go to (dm_connector), which keeps that form, so
// the ghosts already in rooms go on speaking for the same people.
TEST(Ghosts, ShortGhostIdsOfEarlierVersionsStayTheDirectChatConnectors) {
  const GhostNaming naming{"matrix.test", "_coi_", "mail"};
  EXPECT_EQ(person_of_ghost("@_coi_carol=40example.org:matrix.test", naming),
            (GhostPerson{"mail", "carol@example.org"}));
  EXPECT_EQ(*ghost_user_id("mail", "carol@example.org", naming),
            "@_coi_carol=40example.org:matrix.test");
  // Without such a connector, a short ghost id is nobody's.
  EXPECT_FALSE(person_of_ghost("@_coi_carol=40example.org:matrix.test", GhostNaming{"matrix.test"})
                   .has_value());
  // And a connector's people get the long form when another one has the short form.
  EXPECT_EQ(*ghost_user_id("mail", "carol@example.org", GhostNaming{"matrix.test"}),
            "@_coi_mail_-carol=40example.org:matrix.test");
}

TEST(Ghosts, OtherUserIdsAreNotGhosts) {
  const GhostNaming naming{"matrix.test", "_coi_", "mail"};
  for (const char* not_ghost :
       {"@alice:matrix.test", "@_coi_bob=40example.org:other.test", "@_coi_:matrix.test",
        "@_coi_bob=4:matrix.test", "@_coi_Bob:matrix.test", "@_co_bob:matrix.test", "", "_coi_bob",
        "#_coi_bob:matrix.test", "@_coi_bob=40example.org:matrix.test:8448",
        "@_coi__-bob:matrix.test", "@_coi_xmpp_-:matrix.test", "@_coi_xmpp_-B:matrix.test"}) {
    EXPECT_FALSE(person_of_ghost(not_ghost, naming).has_value()) << not_ghost;
  }
  // Malformed escapes are still in our exclusive namespace (nobody else can register them).
  EXPECT_TRUE(in_ghost_namespace("@_coi_bob=4:matrix.test", naming));
  EXPECT_FALSE(in_ghost_namespace("@alice:matrix.test", naming));
  EXPECT_FALSE(in_ghost_namespace("@_coi_x:other.test", naming));
}

TEST(Ghosts, TooLongAndEmptyRemoteIdsFail) {
  const GhostNaming naming{"matrix.test"};
  const auto too_long = ghost_user_id("", std::string(200, '@'), naming);  // 600 bytes escaped
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().kind, core::ErrorKind::kInvalidArgument);
  EXPECT_EQ(too_long.error().field, "remote_id");
  EXPECT_FALSE(ghost_user_id("", "", naming).ok());
  EXPECT_FALSE(ghost_user_id("xmpp", "", naming).ok());
  EXPECT_FALSE(ghost_user_id("xmpp", std::string(200, '@'), naming).ok());
  const std::string longest(255 - std::string("@_coi_:matrix.test").size(), 'a');
  EXPECT_TRUE(ghost_user_id("", longest, naming).ok());
  EXPECT_FALSE(ghost_user_id("", longest + "a", naming).ok());
}

TEST(Portals, AliasesForGroups) {
  const GhostNaming naming{"matrix.test"};
  const auto alias = portal_alias("Grp_ID-42", naming);
  ASSERT_TRUE(alias.ok());
  EXPECT_EQ(*alias, "#_coi__grp___i_d-42:matrix.test");
  EXPECT_TRUE(is_valid_room_alias(*alias));
  EXPECT_EQ(group_id_of_portal_alias(*alias, naming), "Grp_ID-42");
  EXPECT_FALSE(group_id_of_portal_alias("@_coi__grp___i_d-42:matrix.test", naming).has_value());
  EXPECT_FALSE(group_id_of_portal_alias("#other:matrix.test", naming).has_value());
  EXPECT_FALSE(portal_alias(std::string(300, 'g'), naming).ok());
}

TEST(Ghosts, NamingIsChecked) {
  EXPECT_TRUE(check_ghost_naming({"matrix.test"}).ok());
  const auto bad_server = check_ghost_naming({"bad server"});
  ASSERT_FALSE(bad_server.ok());
  EXPECT_EQ(bad_server.error().field, "server_name");
  for (const char* prefix : {"", "_Coi_", "_coi:", "_coi _"}) {
    const auto bad = check_ghost_naming({"matrix.test", prefix});
    ASSERT_FALSE(bad.ok()) << prefix;
    EXPECT_EQ(bad.error().field, "ghost_prefix");
  }
}

}  // namespace
}  // namespace coibridge::connectors::matrix
