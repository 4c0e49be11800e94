// basic.cpp: write, read, lookup and remove one key; the settings of a
// session; errors as exceptions.
//
//   basic 127.0.0.1:1025 [more addresses...]
//
// Exits non-zero (and prints what failed) when a check fails.
#include <elliptics/session.hpp>

#include "check.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace ell = ioremap::elliptics;

static void run(int argc, char **argv) {
	ell::node_config cfg;
	cfg.wait_timeout = std::chrono::seconds(10);
	cfg.name = "cpp-basic";
	ell::node n(cfg);
	ell::session s = examples::connect(n, argc, argv);
	const std::vector<std::uint32_t> groups = s.get_groups();
	std::cout << "libelliptics " << ell::version() << " (ABI " << ell::abi_version() << "), groups:";
	for (auto g : groups)
		std::cout << " " << g;
	std::cout << "\n";
	CHECK(!groups.empty());
	CHECK_EQ(ell::abi_version(), ELL_ABI_VERSION);

	const std::string k = "cpp-basic-key";
	const std::string value = "hello world";

	// Write: one entry per group, every one ok.
	{
		std::vector<ell::result_entry> entries = s.write_data(k, value).get();
		CHECK_EQ(entries.size(), groups.size());
		for (const auto &e : entries) {
			CHECK_EQ(e.status(), 0);
			CHECK(std::find(groups.begin(), groups.end(), e.group_id()) != groups.end());
			CHECK(!e.address().empty());
			CHECK_EQ(e.id(), s.key_id(k));
		}
	}

	// Read it back, whole and in part.
	CHECK_EQ(s.read_data(k).get_one().data(), value);
	CHECK_EQ(s.read_data(k, 6, 5).get_one().data(), "world");
	CHECK_EQ(s.read_data(k, 6).get_one().data(), "world");
	CHECK_EQ(s.read_latest(k).get_one().data(), value);

	// A partial overwrite at an offset.
	CHECK_NOTHROW(s.write_data(k, "W", 6).wait());
	CHECK_EQ(s.read_data(k).get_one().data(), "hello World");

	// Lookup: where and what.
	{
		ell::result_entry e = s.lookup(k).get_one();
		CHECK_EQ(e.status(), 0);
		CHECK_EQ(e.total_size(), value.size());
		CHECK_EQ(e.id(), s.key_id(k));
		CHECK(!e.address().empty());
		std::cout << "lookup: " << e << "\n";
	}

	// IDs: a key's ID is the transform of its name; hex round-trips; a key
	// made from a raw ID reaches the same object.
	{
		ell::id id = s.key_id(k);
		CHECK_EQ(id, s.transform(k));
		CHECK_EQ(ell::id::from_hex(id.to_string()), id);
		CHECK_EQ(id.to_string().size(), std::size_t{2 * ELL_ID_SIZE});
		CHECK(!id.is_zero());
		CHECK(s.key_id("another") != id);
		CHECK_EQ(s.read_data(ell::key(id)).get_one().data(), "hello World");
		for (auto g : groups) {
			ell::address_info a = s.lookup_address(k, g);
			CHECK(!a.address.empty());
			std::vector<std::string> addrs(argv + 1, argv + argc);
			CHECK(std::find(addrs.begin(), addrs.end(), a.address) != addrs.end());
		}
	}

	// Settings round-trip; a clone copies them and is independent.
	{
		s.set_timeout(std::chrono::seconds(7));
		CHECK_EQ(s.get_timeout().count(), 7000);
		s.set_trace_id(0xabcdef);
		CHECK_EQ(s.get_trace_id(), 0xabcdefu);
		s.set_checker(ell::checkers::quorum);
		CHECK(s.get_checker() == ell::checkers::quorum);
		s.set_filter(ell::filters::all);
		CHECK(s.get_filter() == ell::filters::all);
		ell::session c = s.clone();
		CHECK(c.get_groups() == groups);
		CHECK(c.get_checker() == ell::checkers::quorum);
		CHECK_EQ(c.get_timeout().count(), 7000);
		c.set_groups({groups.front()});
		CHECK(s.get_groups() == groups);
		s.set_checker(ell::checkers::at_least_one);
		s.set_filter(ell::filters::positive);
		s.set_trace_id(0);
	}

	// user_flags and the timestamp are stored with the data.
	{
		ell::session c = s.clone();
		c.set_user_flags(0x1234);
		c.set_timestamp(1500000000, 42);
		CHECK_EQ(c.get_user_flags(), 0x1234u);
		CHECK_EQ(c.get_timestamp().tsec, 1500000000u);
		CHECK_NOTHROW(c.write_data("cpp-basic-flags", "x").wait());
		ell::result_entry e = s.read_data("cpp-basic-flags").get_one();
		CHECK_EQ(e.user_flags(), 0x1234u);
		CHECK_EQ(e.timestamp().tsec, 1500000000u);
		CHECK_EQ(e.timestamp().tnsec, 42u);
	}

	// Namespaces: the same name in another namespace is another object.
	{
		ell::session ns = s.clone();
		ns.set_namespace("cpp-ns");
		CHECK_EQ(ns.get_namespace(), "cpp-ns");
		CHECK(ns.key_id(k) != s.key_id(k));
		CHECK_NOTHROW(ns.write_data(k, "in a namespace").wait());
		CHECK_EQ(ns.read_data(k).get_one().data(), "in a namespace");
		CHECK_EQ(s.read_data(k).get_one().data(), "hello World");
		CHECK_NOTHROW(ns.remove(k).wait());
	}

	// Checkers and filters: a group nobody serves fails "all", not
	// "at_least_one"; with filters::all its failure shows as an entry.
	{
		ell::session c = s.clone();
		std::vector<std::uint32_t> more = groups;
		more.push_back(999);
		c.set_groups(more);
		c.set_filter(ell::filters::all);
		std::vector<ell::result_entry> entries = c.write_data("cpp-basic-checker", "v").get();
		CHECK_EQ(entries.size(), more.size());
		int failed = 0;
		for (const auto &e : entries)
			if (e.status() != 0) {
				++failed;
				CHECK_EQ(e.group_id(), 999u);
				CHECK(!e.error_message().empty());
			}
		CHECK_EQ(failed, 1);
		c.set_checker(ell::checkers::all);
		ell::error_info info = c.write_data("cpp-basic-checker", "v").error();
		CHECK(static_cast<bool>(info));
		std::cout << "checker all with group 999: " << info << "\n";
		CHECK_THROWS_CODE(c.write_data("cpp-basic-checker", "v").get(), ell::error, info.code);
		c.set_checker(ell::checkers::no_check);
		CHECK_NOTHROW(c.write_data("cpp-basic-checker", "v").get());
	}

	// Remove: one entry per group; the key is gone after.
	{
		std::vector<ell::result_entry> entries = s.remove(k).get();
		CHECK_EQ(entries.size(), groups.size());
		for (const auto &e : entries)
			CHECK_EQ(e.status(), 0);
	}

	// Not found is an exception with code -2, in the elliptics category,
	// equivalent to std::errc::no_such_file_or_directory.
	try {
		(void)s.read_data(k).get();
		::examples::fail(__FILE__, __LINE__, "read of a removed key did not throw");
	} catch (const ell::not_found_error &e) {
		CHECK_EQ(e.status(), -2);
		CHECK_EQ(e.code().value(), ELL_ENOENT);
		CHECK_EQ(std::string(e.code().category().name()), "elliptics");
		CHECK(e.code() == std::errc::no_such_file_or_directory);
		CHECK(!std::string(e.what()).empty());
		std::cout << "read of a removed key: " << e.what() << "\n";
	}
	CHECK_THROWS_CODE(s.lookup(k).get_one(), ell::not_found_error, -2);
	CHECK_THROWS_CODE(s.read_latest(k).get(), ell::error, -2);
	CHECK_EQ(s.lookup(k).error().code, -2);
	// Iterating a failed call throws at the end.
	CHECK_THROWS_CODE(
		for (const auto &e : s.read_data(k)) { ::examples::fail(__FILE__, __LINE__, "entry " + e.data()); },
		ell::not_found_error, -2);
	// A second remove fails too.
	CHECK_THROWS_CODE(s.remove(k).get(), ell::error, -2);

	// Iteration over a successful call yields its entries.
	{
		CHECK_NOTHROW(s.write_data(k, value).wait());
		std::size_t n = 0;
		for (const auto &e : s.write_data(k, value)) {
			CHECK_EQ(e.status(), 0);
			++n;
		}
		CHECK_EQ(n, groups.size());
	}

	// A moved-from result is invalid.
	{
		ell::async_result a = s.lookup(k);
		ell::async_result b = std::move(a);
		CHECK(!a.valid());
		CHECK(b.valid());
		CHECK_NOTHROW(b.wait());
		CHECK(b.ready());
		CHECK(b.elapsed().count() >= 0);
	}
}

int main(int argc, char **argv) {
	try {
		run(argc, argv);
	} catch (const std::exception &e) {
		std::cerr << "FAILED: uncaught exception: " << e.what() << "\n";
		return 1;
	}
	return examples::finish("basic");
}
