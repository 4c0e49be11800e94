// dataops.cpp: the data operations of issue 6 through the C++ API: writes
// at offsets, appends, lifetimes, compare-and-swap, chunked uploads, ID
// ranges, a server-side iterator paused and continued, and server_send.
//
//   dataops 127.0.0.1:1025 127.0.0.1:1026 127.0.0.1:1027
//
// The nodes serve groups 1, 2 and 3 and must know each other (server_send
// copies from node to node). Exits non-zero when a check fails.
#include <elliptics/session.hpp>

#include "check.hpp"

#include <chrono>
#include <ctime>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ell = ioremap::elliptics;

// Raw IDs sharing a random 8-byte prefix: prefix, then i, then a 1.
static ell::id range_id(const ell::id::bytes &prefix, int i) {
	ell::id::bytes b{};
	std::copy(prefix.begin(), prefix.begin() + 8, b.begin());
	b[8] = static_cast<std::uint8_t>(i);
	b[63] = 1;
	return ell::id(b);
}

static ell::range prefix_range(const ell::id::bytes &prefix, std::uint32_t group) {
	ell::id::bytes lo{}, hi{};
	std::copy(prefix.begin(), prefix.begin() + 8, lo.begin());
	std::copy(prefix.begin(), prefix.begin() + 8, hi.begin());
	std::fill(hi.begin() + 8, hi.end(), 0xff);
	ell::range r;
	r.start = ell::id(lo);
	r.end = ell::id(hi);
	r.group_id = group;
	return r;
}

static ell::id::bytes random_prefix() {
	std::random_device rd;
	ell::id::bytes p{};
	for (int i = 0; i < 8; ++i)
		p[i] = static_cast<std::uint8_t>(rd());
	return p;
}

static void run(int argc, char **argv) {
	ell::node_config cfg;
	cfg.wait_timeout = std::chrono::seconds(20);
	ell::node n(cfg);
	ell::session s = examples::connect(n, argc, argv);
	s.set_namespace("cpp-dataops-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(std::random_device()()));
	const std::string addr1 = argv[1];

	// Offsets and append.
	s.write_data("offsets", "55555").get();
	s.write_data("offsets", "43210", 1).get();
	CHECK_EQ(s.read_data("offsets").get_one().data(), std::string("543210"));
	ell::write_options append;
	append.append = true;
	s.write_data("offsets", "++", append).get();
	CHECK_EQ(s.read_data("offsets").get_one().data(), std::string("543210++"));

	// A lifetime: visible with its expiry, then gone.
	ell::write_options ttl;
	ttl.ttl = std::chrono::milliseconds(1500);
	s.write_data("ttl", "short", ttl).get();
	ell::result_entry e = s.read_data("ttl").get_one();
	CHECK_EQ(e.data(), std::string("short"));
	CHECK(e.expire().tsec > 0);
	CHECK_EQ(s.read_data("offsets").get_one().expire().tsec, 0u);
	std::this_thread::sleep_for(std::chrono::seconds(2));
	CHECK_THROWS_CODE(s.read_data("ttl").get(), ell::not_found_error, -2);

	// Compare-and-swap: a wrong checksum is -77; the right one (SHA-512 of
	// the value, transform() of a session without a namespace) passes.
	ell::session plain = s.clone();
	plain.set_namespace("");
	s.write_data("cas", "v1").get();
	CHECK_THROWS_CODE(s.write_cas("cas", "v2", ell::id::from_hex("01")).get(), ell::error, -77);
	CHECK_NOTHROW(s.write_cas("cas", "v2", plain.transform("v1")).get());
	CHECK_EQ(s.read_data("cas").get_one().data(), std::string("v2"));
	// The converter form retries until it wins.
	for (int i = 0; i < 3; ++i)
		CHECK_NOTHROW(s.write_cas("cas", [](const std::string &cur) { return cur + "+"; }).get());
	CHECK_EQ(s.read_data("cas").get_one().data(), std::string("v2+++"));
	CHECK_THROWS_CODE(s.write_cas("cas", [](const std::string &) -> std::string { throw std::runtime_error("no"); })
				  .get(),
			  ell::error, -22);
	// A timestamp older than the stored one is refused.
	ell::session old = s.clone();
	old.set_timestamp(1000, 0);
	ell::write_options cas_ts;
	cas_ts.cas_timestamp = true;
	CHECK_THROWS_CODE(old.write_data("cas", "old", cas_ts).get(), ell::error, -77);

	// A chunked upload is invisible until its commit.
	s.write_prepare("upload", "01234", 0, 10).get();
	CHECK_THROWS_CODE(s.read_data("upload").get(), ell::not_found_error, -2);
	s.write_plain("upload", "56", 5).get();
	s.write_commit("upload", "789", 7, 10).get();
	CHECK_EQ(s.read_data("upload").get_one().data(), std::string("0123456789"));

	// ID ranges: 16 records in group 1, limits (3, 14) give 13.
	ell::session g1 = s.clone();
	g1.set_groups({1});
	ell::id::bytes prefix = random_prefix();
	for (int i = 0; i < 16; ++i)
		g1.write_data(range_id(prefix, i), "value-" + std::to_string(i)).get();
	ell::range r = prefix_range(prefix, 1);
	std::vector<ell::result_entry> rs = g1.read_data_range(r).get();
	CHECK_EQ(rs.size(), 16u);
	if (rs.size() == 16)
		CHECK_EQ(rs[5].data(), std::string("value-5"));
	r.limit_start = 3;
	r.limit_num = 14;
	CHECK_EQ(g1.read_data_range(r).get().size(), 13u);
	CHECK_EQ(g1.count_data_range(r).get_one().count(), 13u);

	// server_send: records 0 and 1 to group 2.
	ell::session g2 = s.clone();
	g2.set_groups({2});
	std::vector<ell::result_entry> sent = g1.server_send({range_id(prefix, 0), range_id(prefix, 1)}, {2}).get();
	CHECK_EQ(sent.size(), 2u);
	for (const auto &x : sent)
		CHECK(x.group_id() == 2 && x.is_ok());
	CHECK_EQ(g2.read_data(range_id(prefix, 1)).get_one().data(), std::string("value-1"));

	// An iterator over the range, by address and backend, with data.
	ell::iterator_options io;
	io.address = addr1;
	io.backend_id = 0;
	ell::range whole = prefix_range(prefix, 1);
	io.ranges.emplace_back(whole.start, whole.end);
	io.flags = ell::iterator_flags::data;
	std::size_t seen = 0;
	for (const ell::result_entry &x : g1.start_iterator(io)) {
		CHECK_EQ(x.data(), "value-" + std::to_string(seen));
		CHECK(x.iterator_id() > 0 && x.total_keys() >= 16);
		++seen;
	}
	CHECK_EQ(seen, 16u);

	// Large records and a reader that holds back: pause, continue.
	ell::id::bytes big = random_prefix();
	const std::string value(256 << 10, 'v');
	for (int i = 0; i < 48; ++i)
		g1.write_data(range_id(big, i), value).get();
	ell::range bigr = prefix_range(big, 1);
	io.ranges = {{bigr.start, bigr.end}};
	io.window = 1;
	ell::async_result it = g1.start_iterator(io);
	auto pos = it.begin();
	CHECK(pos != it.end());
	const std::uint64_t iter = pos->iterator_id();
	g1.pause_iterator(addr1, iter).get();
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	std::uint64_t p1 = g1.pause_iterator(addr1, iter).get_one().iterated_keys();
	std::this_thread::sleep_for(std::chrono::milliseconds(300));
	std::uint64_t p2 = g1.pause_iterator(addr1, iter).get_one().iterated_keys();
	CHECK_EQ(p1, p2);
	CHECK(p2 < 48);
	g1.continue_iterator(addr1, iter).get();
	std::size_t records = 0;
	for (; pos != it.end(); ++pos) {
		CHECK_EQ(pos->data().size(), value.size());
		++records;
	}
	CHECK_EQ(records, 48u);
	CHECK_THROWS_CODE(g1.continue_iterator(addr1, iter).get(), ell::not_found_error, -2);

	// Clean up with range removes: the count, then nothing left.
	CHECK_EQ(g1.remove_data_range(prefix_range(big, 1)).get_one().count(), 48u);
	CHECK_EQ(g1.remove_data_range(prefix_range(prefix, 1)).get_one().count(), 16u);
	CHECK_EQ(g1.remove_data_range(prefix_range(prefix, 1)).get_one().count(), 0u);
	CHECK_EQ(g2.remove_data_range(prefix_range(prefix, 2)).get_one().count(), 2u);
}

int main(int argc, char **argv) {
	try {
		run(argc, argv);
	} catch (const std::exception &e) {
		std::cerr << "FAILED: uncaught exception: " << e.what() << "\n";
		return 1;
	}
	return examples::finish("dataops");
}
