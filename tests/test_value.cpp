// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>

#include <runlog/value.hpp>

using runlog::value;

namespace geometry {
struct point {
    int x, y;
};
// The ADL extension point: a user type becomes a value.
inline value to_value(const point& p) {
    return {{"x", p.x}, {"y", p.y}};
}
}  // namespace geometry

TEST_CASE("value: scalars keep their JSON type", "[value]") {
    CHECK(value().is_null());
    CHECK(value(true).is_bool());
    CHECK(value(3).is_int());
    CHECK(value(std::int64_t{-7}).as_int() == -7);
    CHECK(value(2.5).is_double());
    CHECK(value(0.1f).as_double() == 0.1);  // floats keep the decimal the user saw
    CHECK(value("adam").as_string() == "adam");
    CHECK(value(std::string("x")).is_string());
    // uint64 beyond int64 does not wrap to a negative number
    const value big(std::numeric_limits<std::uint64_t>::max());
    CHECK(big.is_double());
    CHECK(big.as_double() > 1.8e19);
    CHECK(value(std::uint64_t{42}).is_int());
}

TEST_CASE("value: initializer lists build objects and arrays", "[value]") {
    const value config = {{"lr", 1e-3}, {"optimizer", {{"name", "adam"}, {"beta1", 0.9}}}};
    REQUIRE(config.is_object());
    CHECK(config.size() == 2);
    CHECK(config.find("lr")->as_double() == 1e-3);
    REQUIRE(config.find("optimizer")->is_object());
    CHECK(config.find("optimizer")->find("name")->as_string() == "adam");
    CHECK(config.dump() == R"({"lr":0.001,"optimizer":{"name":"adam","beta1":0.9}})");

    const value list = {1, 2, 3};
    CHECK(list.is_array());
    CHECK(list.dump() == "[1,2,3]");
    const value pairs_of_numbers = {{1, 2}, {3, 4}};
    CHECK(pairs_of_numbers.is_array());  // first elements are not strings
    CHECK(value::array().dump() == "[]");
    CHECK(value::object().dump() == "{}");
}

TEST_CASE("value: update merges nested objects", "[value][config]") {
    value config = {{"lr", 1e-3}, {"optimizer", {{"name", "adam"}, {"beta1", 0.9}}}};
    config.update({{"optimizer", {{"beta1", 0.95}, {"eps", 1e-8}}}, {"batch", 32}});
    CHECK(config.dump() ==
          R"({"lr":0.001,"optimizer":{"name":"adam","beta1":0.95,"eps":1e-08},"batch":32})");
    // a non-object replaces
    config.update({{"optimizer", "sgd"}});
    CHECK(config.find("optimizer")->as_string() == "sgd");
}

TEST_CASE("value: flatten gives the a/b/c view", "[value][config]") {
    const value config = {{"lr", 1e-3},
                          {"optimizer", {{"name", "adam"}, {"betas", {0.9, 0.999}}}},
                          {"empty", value::object()}};
    const auto flat = runlog::flatten(config);
    REQUIRE(flat.size() == 4);
    CHECK(flat[0].first == "lr");
    CHECK(flat[1].first == "optimizer/name");
    CHECK(flat[2].first == "optimizer/betas");
    CHECK(flat[2].second.dump() == "[0.9,0.999]");
    CHECK(flat[3].first == "empty");
    CHECK(runlog::flatten(config, '.')[1].first == "optimizer.name");
    // An empty config has no leaves (it was one named "", TensorBoard's hyperparameter ""); an
    // empty object inside one is a leaf.
    CHECK(runlog::flatten(value::object()).empty());
    const auto nested_empty = runlog::flatten(value{{"opt", value::object()}});
    REQUIRE(nested_empty.size() == 1);
    CHECK(nested_empty[0].first == "opt");
}

TEST_CASE("value: user types convert through ADL to_value", "[value]") {
    const value v = geometry::point{1, 2};
    CHECK(v.dump() == R"({"x":1,"y":2})");
    const value nested = {{"origin", geometry::point{0, 0}}};
    CHECK(nested.dump() == R"({"origin":{"x":0,"y":0}})");
}

TEST_CASE("value: operator[], erase and equality", "[value]") {
    value v;
    v["a"]["b"] = 1;
    v["c"] = "d";
    CHECK(v.dump() == R"({"a":{"b":1},"c":"d"})");
    CHECK(v.erase("c"));
    CHECK_FALSE(v.erase("missing"));
    CHECK(v == value{{"a", {{"b", 1}}}});
    CHECK(v != value{{"a", {{"b", 2}}}});
    CHECK(value(1) != value(1.0));  // int and double are different JSON tokens
}

TEST_CASE("value: copies, moves and assignments, from inside itself too", "[value]") {
    value v = {{"a", {1, "two", {{"three", 3.5}}}}, {"b", true}};
    const value copy =
        v;  // NOLINT(performance-unnecessary-copy-initialization): the copy is tested
    value moved = std::move(v);
    CHECK(moved == copy);
    CHECK(moved.dump() == R"({"a":[1,"two",{"three":3.5}],"b":true})");

    value w = copy;
    w = w["a"];  // a member of w replaces w
    CHECK(w.dump() == R"([1,"two",{"three":3.5}])");
    value x = copy;
    x = std::move(x["a"].as_array()[2]);
    CHECK(x.dump() == R"({"three":3.5})");
    value& self = x;
    x = self;
    x = std::move(self);
    CHECK(x.dump() == R"({"three":3.5})");

    // Scalars and strings over containers and back.
    value y = copy;
    y = 7;
    CHECK(y.dump() == "7");
    y = std::string(300, 'x');
    CHECK(y.as_string().size() == 300);
    y = copy;
    CHECK(y == copy);
    CHECK(value(1) != value(1.0));  // int and double differ, as in JSON readers that keep types
    CHECK(value(std::nan("")) != value(std::nan("")));

    // Member access and push_back turn other values into an object or an array.
    value z = 5;
    z["k"] = 1;
    CHECK(z.dump() == R"({"k":1})");
    value text = "key";
    text[text.as_string()] = 2;  // the key views the string being replaced
    CHECK(text.dump() == R"({"key":2})");
    value list = "not a list";
    list.push_back(1);
    CHECK(list.dump() == "[1]");
}
