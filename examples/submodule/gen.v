// 2-bit adder as a model generated it: `sum` and `cout` are right, `parity` is
// wrong (even parity instead of odd).
module full_adder (
    input  wire a,
    input  wire b,
    input  wire cin,
    output wire s,
    output wire cout
);
    assign s    = a ^ b ^ cin;
    assign cout = (a & b) | (cin & (a ^ b));
endmodule

module adder2 (
    input  wire [1:0] x,
    input  wire [1:0] y,
    input  wire       cin,
    output wire [1:0] sum,
    output wire       cout,
    output wire       parity
);
    wire c1;

    full_adder fa0 (.a(x[0]), .b(y[0]), .cin(cin), .s(sum[0]), .cout(c1));
    full_adder fa1 (.a(x[1]), .b(y[1]), .cin(c1),  .s(sum[1]), .cout(cout));

    assign parity = ~^{x, y};
endmodule
