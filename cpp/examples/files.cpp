// files.cpp: streamed file transfers through the C++ API: write_file of a
// whole file and of a slice, read_file of the whole object and of a range,
// a progress callback, and the errors of a missing key and a missing file.
// The library reads and writes the files itself, a chunk at a time.
//
//   files 127.0.0.1:1025 127.0.0.1:1026 127.0.0.1:1027
//
// Exits non-zero when a check fails.
#include <elliptics/session.hpp>

#include "check.hpp"

#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <unistd.h>

namespace ell = ioremap::elliptics;
namespace fs = std::filesystem;

// Removes its directory and everything in it when it goes out of scope.
class temp_dir {
public:
	temp_dir() : path_(fs::temp_directory_path() / ("elliptics-cpp-files-" + std::to_string(::getpid()))) {
		fs::create_directories(path_);
	}
	~temp_dir() {
		std::error_code ec;
		fs::remove_all(path_, ec);
	}
	temp_dir(const temp_dir &) = delete;
	temp_dir &operator=(const temp_dir &) = delete;
	[[nodiscard]] std::string file(const std::string &name) const { return (path_ / name).string(); }

private:
	fs::path path_;
};

static std::string slurp(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

static void run(int argc, char **argv) {
	ell::node_config cfg;
	cfg.wait_timeout = std::chrono::seconds(20);
	ell::node n(cfg);
	ell::session s = examples::connect(n, argc, argv);
	s.set_namespace("cpp-files-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(std::random_device()()));

	temp_dir dir;
	const std::string src = dir.file("src"), dst = dir.file("dst");
	std::string data(3 * 1024 * 1024 + 77, '\0');
	std::mt19937 rng(42);
	for (char &c : data)
		c = static_cast<char>(rng());
	std::ofstream(src, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));

	// The whole file, in 1 MiB chunks, with progress.
	ell::file_options o;
	o.chunk_size = 1024 * 1024;
	int calls = 0;
	std::uint64_t last = 0;
	o.progress = [&](std::uint64_t done, std::uint64_t) {
		++calls;
		last = done;
	};
	std::size_t groups = s.get_groups().size();
	CHECK_EQ(s.write_file("file", src, 0, 0, 0, o).get().size(), groups);
	CHECK_EQ(calls, 4);
	CHECK_EQ(last, data.size());
	ell::result_entry e = s.read_file("file", dst, 0, 0, o).get_one();
	CHECK_EQ(e.size(), data.size());
	CHECK(slurp(dst) == data);

	// A slice of the file (local_offset 100, 1000 bytes), then a range of
	// the object.
	s.write_file("file", src, 100, 0, 1000).get();
	CHECK(s.read_data("file").get_one().data() == data.substr(100, 1000));
	e = s.read_file("file", dst, 10, 20).get_one();
	CHECK_EQ(e.offset(), 10u);
	CHECK(slurp(dst) == data.substr(110, 20));

	// A missing key leaves the file as it was; a missing file throws at once.
	CHECK_THROWS_CODE(s.read_file("missing", dst).get(), ell::not_found_error, -2);
	CHECK(slurp(dst) == data.substr(110, 20));
	CHECK_THROWS_CODE(s.write_file("file", dir.file("nope")).wait(), ell::not_found_error, -2);

	// A progress callback that throws stops the transfer.
	ell::file_options stop;
	stop.chunk_size = 1024 * 1024;
	stop.progress = [](std::uint64_t, std::uint64_t) { throw std::runtime_error("enough"); };
	CHECK_THROWS_CODE(s.write_file("stopped", src, 0, 0, 0, stop).get(), ell::error, -125);
	CHECK_THROWS_CODE(s.read_data("stopped").get(), ell::not_found_error, -2);
}

int main(int argc, char **argv) {
	try {
		run(argc, argv);
	} catch (const std::exception &e) {
		std::cerr << "FAILED: uncaught exception: " << e.what() << "\n";
		return 1;
	}
	return examples::finish("files");
}
