// C++: exceptions across frames, iostreams, the standard containers.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

struct Tracker {
    std::string name;
    explicit Tracker(std::string n) : name(std::move(n)) {}
    ~Tracker() { std::cout << "destroyed " << name << "\n"; }
};

static int depth(int n) {
    Tracker t("frame " + std::to_string(n));
    if (n == 0) throw std::runtime_error("bottom reached");
    return depth(n - 1) + 1;
}

int main() {
    try {
        depth(3);
    } catch (const std::exception &e) {
        std::cout << "caught: " << e.what() << "\n";
    }
    try {
        std::vector<int> v(3);
        v.at(10) = 1;
    } catch (const std::out_of_range &) {
        std::cout << "out_of_range caught\n";
    }
    std::map<std::string, int> counts;
    std::istringstream words("the quick brown fox jumps over the lazy dog the end");
    for (std::string w; words >> w;) counts[w]++;
    for (const auto &[w, c] : counts) std::cout << w << "=" << c << " ";
    std::cout << "\n";
    std::vector<double> xs{3.5, -1.25, 2.0, 10.0};
    std::sort(xs.begin(), xs.end());
    std::cout.precision(3);
    for (double x : xs) std::cout << std::fixed << x << " ";
    std::cout << "\n";
    auto p = std::make_unique<Tracker>("heap object");
    std::cerr << "to cerr\n";
    return 0;
}
