// 8-bit ALU (reference): one always block computes result, carry and zero
// from the same case on `op`. carry is the carry out of a + b and the
// "no borrow" flag of a - b.
module alu8 (
    input  wire [7:0] a,
    input  wire [7:0] b,
    input  wire [1:0] op,
    output reg  [7:0] result,
    output reg        carry,
    output reg        zero
);
    always @(*) begin
        carry = 1'b0;
        case (op)
            2'b00: {carry, result} = a + b;
            2'b01: begin
                result = a - b;
                carry  = (a >= b);
            end
            2'b10: result = a & b;
            default: result = a | b;
        endcase
        zero = (result == 8'd0);
    end
endmodule
